"""A real SMTP server for tests/alerts.rs (aiosmtpd): listens on 127.0.0.1,
prints "listening on PORT", and writes every mail it receives to
OUTDIR/mail-N.json with the envelope, the parsed headers and the decoded
body. With USER:PASSWORD it requires that login (AUTH PLAIN/LOGIN, allowed
without TLS) before accepting any mail.
Usage: python3 smtp_sink.py OUTDIR [USER:PASSWORD]"""

import asyncio
import email
import email.policy
import itertools
import json
import os
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

OUTDIR = sys.argv[1]
CREDENTIALS = sys.argv[2].encode().split(b":", 1) if len(sys.argv) > 2 else None
COUNTER = itertools.count(1)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(msg["Subject"]),
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "body": body.get_content() if body is not None else "",
            "raw": envelope.content.decode("utf-8", "replace"),
            "authenticated": bool(session.authenticated),
        }
        n = next(COUNTER)
        tmp = os.path.join(OUTDIR, f".mail-{n}.tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(OUTDIR, f"mail-{n}.json"))
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and [
        auth_data.login,
        auth_data.password,
    ] == CREDENTIALS
    # handled=False: let the server answer 535 on a wrong login.
    return AuthResult(success=ok, handled=False)


def smtp():
    if CREDENTIALS is None:
        return SMTP(Handler(), hostname="lovebeat-test-smtp")
    return SMTP(
        Handler(),
        hostname="lovebeat-test-smtp",
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(smtp, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on {port}", flush=True)
    await server.serve_forever()


asyncio.run(main())
