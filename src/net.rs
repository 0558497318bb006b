//! Binding the listeners. `":PORT"` in the config means every interface, IPv4
//! and IPv6: the config turns it into `[::]:PORT`, and here that becomes one
//! dual-stack socket (`IPV6_V6ONLY` off, so IPv4 clients arrive as
//! v4-mapped addresses). On a host without IPv6 it falls back to
//! `0.0.0.0:PORT`. Every other address is bound as it is.

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};

/// Backlog of a listening socket (the kernel caps it at `somaxconn`).
const BACKLOG: i32 = 4096;

/// A TCP listener on `addr` (see the module doc for `[::]`).
pub fn bind_tcp(addr: &str) -> io::Result<TcpListener> {
    match dual_stack_port(addr)? {
        Some(port) => match dual_stack(Type::STREAM, Protocol::TCP, port) {
            Ok(socket) => {
                socket.listen(BACKLOG)?;
                Ok(socket.into())
            }
            Err(error) if no_ipv6(&error) => TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)),
            Err(error) => Err(error),
        },
        None => TcpListener::bind(addr),
    }
}

/// A UDP socket on `addr` (see the module doc for `[::]`).
pub fn bind_udp(addr: &str) -> io::Result<UdpSocket> {
    match dual_stack_port(addr)? {
        Some(port) => match dual_stack(Type::DGRAM, Protocol::UDP, port) {
            Ok(socket) => Ok(socket.into()),
            Err(error) if no_ipv6(&error) => UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)),
            Err(error) => Err(error),
        },
        None => UdpSocket::bind(addr),
    }
}

/// `Some(port)` when `addr` is `[::]:port`, the config's "all interfaces".
fn dual_stack_port(addr: &str) -> io::Result<Option<u16>> {
    let Some(port) = addr.strip_prefix("[::]:") else {
        return Ok(None);
    };
    port.parse().map(Some).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad port in listen address {addr}"),
        )
    })
}

/// A socket bound to `[::]:port` that takes IPv4 too.
fn dual_stack(kind: Type, protocol: Protocol, port: u16) -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV6, kind, Some(protocol))?;
    socket.set_only_v6(false)?;
    if kind == Type::STREAM {
        // As std does for every listener: a restart can bind at once while
        // the old process's connections are in TIME_WAIT.
        socket.set_reuse_address(true)?;
    }
    socket.bind(&SockAddr::from(SocketAddr::from((
        Ipv6Addr::UNSPECIFIED,
        port,
    ))))?;
    Ok(socket)
}

/// True for the errors of a host with IPv6 switched off.
fn no_ipv6(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL) | Some(libc::EPROTONOSUPPORT)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpStream, UdpSocket};
    use std::time::Duration;

    fn ipv6_loopback_works() -> bool {
        UdpSocket::bind("[::1]:0").is_ok()
    }

    #[test]
    fn all_interfaces_takes_ipv4_and_ipv6_on_one_tcp_socket() {
        let listener = bind_tcp("[::]:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut targets = vec![format!("127.0.0.1:{port}")];
        if ipv6_loopback_works() {
            targets.push(format!("[::1]:{port}"));
        }
        for target in targets {
            let mut client = TcpStream::connect(&target).expect("connect");
            let (mut served, _) = listener.accept().expect("accept");
            client.write_all(b"x").expect("write");
            let mut byte = [0u8; 1];
            served.read_exact(&mut byte).expect("read");
            assert_eq!(&byte, b"x", "{target}");
        }
    }

    #[test]
    fn all_interfaces_takes_ipv4_and_ipv6_on_one_udp_socket() {
        let socket = bind_udp("[::]:0").expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let port = socket.local_addr().expect("addr").port();
        let mut senders = vec![("127.0.0.1:0", format!("127.0.0.1:{port}"))];
        if ipv6_loopback_works() {
            senders.push(("[::1]:0", format!("[::1]:{port}")));
        }
        for (from, to) in senders {
            let sender = UdpSocket::bind(from).expect("sender");
            sender.send_to(b"beat", &to).expect("send");
            let mut buf = [0u8; 8];
            let (n, _) = socket.recv_from(&mut buf).expect("receive");
            assert_eq!(&buf[..n], b"beat", "{to}");
        }
    }

    #[test]
    fn other_addresses_are_bound_as_they_are() {
        let listener = bind_tcp("127.0.0.1:0").expect("bind");
        assert!(listener.local_addr().expect("addr").ip().is_loopback());
        assert!(bind_udp("127.0.0.1:0").is_ok());
        assert!(bind_tcp("[::]:x").is_err());
    }
}
