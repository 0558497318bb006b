"""A real SMTP server for tests/alerts.rs (aiosmtpd): listens on 127.0.0.1,
prints "listening on PORT", and writes every mail it receives to
OUTDIR/mail-N.json with the envelope, the parsed headers and the decoded
body. Usage: python3 smtp_sink.py OUTDIR"""

import asyncio
import email
import email.policy
import itertools
import json
import os
import sys

from aiosmtpd.smtp import SMTP

OUTDIR = sys.argv[1]
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
        }
        n = next(COUNTER)
        tmp = os.path.join(OUTDIR, f".mail-{n}.tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(OUTDIR, f"mail-{n}.json"))
        return "250 Message accepted for delivery"


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Handler(), hostname="lovebeat-test-smtp"), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    print(f"listening on {port}", flush=True)
    await server.serve_forever()


asyncio.run(main())
