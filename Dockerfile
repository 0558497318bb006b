# lovebeat in a container: nothing but the static binary (FROM scratch).
#
#   packaging/build-static.sh          # target/static/x86_64-unknown-linux-gnu/release/lovebeat
#   podman build -t lovebeat .         # or: docker build -t lovebeat .
#   podman run -d --name lovebeat -p 8080:8080 -p 8127:8127/udp -p 8127:8127 \
#     -v lovebeat-data:/var/lib/lovebeat lovebeat
#
# The database is /var/lib/lovebeat/lovebeat.db, on the volume. A
# configuration goes in with `-v ./lovebeat.toml:/etc/lovebeat.toml:ro`
# (optional: without one the built-in defaults apply). `podman stop` sends
# SIGTERM and lovebeat saves before it exits. TLS roots (S3, mail, webhooks)
# are inside the binary.
FROM scratch
COPY target/static/x86_64-unknown-linux-gnu/release/lovebeat /usr/sbin/lovebeat
# The state directory, owned by the user lovebeat runs as.
COPY --chown=65534:65534 packaging/container/state/ /var/lib/lovebeat/
USER 65534:65534
WORKDIR /var/lib/lovebeat
VOLUME ["/var/lib/lovebeat"]
EXPOSE 8080/tcp 8127/udp 8127/tcp
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/sbin/lovebeat"]
