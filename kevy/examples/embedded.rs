//! Embedding kevy: start a server inside your program on the backend of
//! your choice, use it, and stop it.
//!
//! `cargo run -p kevy --example embedded` starts two shards on a free port,
//! writes and reads a key over a real connection, then stops. Pass a
//! backend name (`mio`, `polling`, `glommio`) to pick one that this build
//! has compiled in.

use std::io::{Read, Write};
use std::net::TcpStream;

use kevy::server::{Server, Transport};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let transport = match std::env::args().nth(1) {
        Some(name) => name.parse()?,
        None => Transport::compiled()[0],
    };
    let running = Server::builder()
        .bind("127.0.0.1")
        .port(0)
        .threads(2)
        .transport(transport)
        .data_dir(std::env::temp_dir())
        .start()?;
    let addr = running.addrs()[0];
    println!("kevy serving on {addr} with the {transport} backend");

    let mut client = TcpStream::connect(addr)?;
    client.write_all(b"*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$5\r\nworld\r\n")?;
    client.write_all(b"*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n")?;
    let expected = b"+OK\r\n$5\r\nworld\r\n";
    let mut reply = vec![0u8; expected.len()];
    client.read_exact(&mut reply)?;
    println!("replies: {:?}", String::from_utf8_lossy(&reply));

    running.stop();
    running.wait();
    println!("stopped");
    Ok(())
}
