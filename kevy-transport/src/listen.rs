//! Listening sockets shared by every shard through SO_REUSEPORT: each shard
//! binds its own listener on the same address and the kernel spreads new
//! connections over them, so no accept hand-off between threads is needed.

use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

use crate::TransportError;

/// Backlog of pending connections per listener (Redis's `tcp-backlog`).
pub const TCP_BACKLOG: i32 = 511;

/// Binds a non-blocking listener with SO_REUSEADDR and SO_REUSEPORT set.
pub fn bind_reuseport(addr: SocketAddr) -> Result<TcpListener, TransportError> {
    let map = |source| TransportError::Bind { addr, source };
    let socket = bind_shared(addr)?;
    socket.set_nonblocking(true).map_err(map)?;
    socket.listen(TCP_BACKLOG).map_err(map)?;
    Ok(socket.into())
}

/// Binds `addr` with SO_REUSEPORT without listening: the port is held
/// (port 0 resolved) while the shards bind their listeners, yet no
/// connection can be queued on it (only listening sockets of a reuseport
/// group receive connections).
pub fn reserve_port(addr: SocketAddr) -> Result<(Socket, SocketAddr), TransportError> {
    let map = |source| TransportError::Bind { addr, source };
    // First an exclusive bind (no SO_REUSEPORT): it fails when anyone, even
    // another server's reuseport group, holds the port, so a second server
    // started on the same port reports "Address already in use" instead of
    // silently sharing its connections. It also resolves port 0 to a port
    // nobody uses.
    let exclusive = bind_socket(addr, false)?;
    let addr = exclusive
        .local_addr()
        .map_err(map)?
        .as_socket()
        .ok_or_else(|| map(std::io::Error::other("not an inet address")))?;
    drop(exclusive);
    let map = |source| TransportError::Bind { addr, source };
    let socket = bind_shared(addr)?;
    let bound = socket
        .local_addr()
        .map_err(map)?
        .as_socket()
        .ok_or_else(|| map(std::io::Error::other("not an inet address")))?;
    Ok((socket, bound))
}

/// A TCP socket bound to `addr` as a member of its reuseport group (IPv6
/// sockets take IPv6 only, so an IPv4 group on the same port stays apart).
fn bind_shared(addr: SocketAddr) -> Result<Socket, TransportError> {
    bind_socket(addr, true)
}

/// A TCP socket bound to `addr`, in its reuseport group when `shared`.
fn bind_socket(addr: SocketAddr, shared: bool) -> Result<Socket, TransportError> {
    let map = |source| TransportError::Bind { addr, source };
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP)).map_err(map)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(map)?;
    }
    socket.set_reuse_address(true).map_err(map)?;
    if shared {
        socket.set_reuse_port(true).map_err(map)?;
    }
    socket.bind(&addr.into()).map_err(map)?;
    Ok(socket)
}
