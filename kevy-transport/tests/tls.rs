//! TLS end to end: `TlsHandler` around a small line-protocol core, driven by
//! the real mio backend with a plain and a TLS listener, and talked to by
//! rustls clients and plain TCP clients. Certificates are made at test time
//! (rcgen) and read from files, as the server reads them.
//!
//! Covered: data both ways (a multi-megabyte reply, many pipelined
//! messages), plain and TLS ports together, `tls-auth-clients` yes and
//! optional against missing, foreign and CA-signed client certificates, a
//! plain-text client on the TLS port next to a working TLS client, clients
//! leaving mid-handshake, clean shutdown with `close_notify` both ways,
//! configuration errors, and the loop stopping on request.
#![cfg(all(feature = "tls", feature = "mio"))]

mod tls_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;

use kevy_transport::tls::{server_config, AuthClients, TlsError, TlsSettings};
use rustls::pki_types::ServerName;
use rustls::ClientConnection;
use tls_support::{
    pattern_byte, plain_client, settings, tls_client, tls_client_for, Ca, Scratch, Server,
};

/// A server whose clients need no certificate, with its CA.
fn open_server(scratch: &Scratch) -> (Ca, Server) {
    let ca = Ca::new(scratch, "main");
    let server_id = ca.server_identity(scratch);
    let server = Server::start(&settings(&ca, &server_id, AuthClients::No));
    (ca, server)
}

#[test]
fn tls_client_gets_small_and_multi_megabyte_replies() {
    let scratch = Scratch::new("big");
    let (ca, server) = open_server(&scratch);
    let mut client = tls_client(server.tls, ca.client_config(None));
    assert_eq!(client.echo("hello").unwrap(), b"hello");
    let size = 5 * 1024 * 1024 + 123;
    client.send(format!("BIG {size}\n").as_bytes()).unwrap();
    let reply = client.line().unwrap();
    assert_eq!(reply.len(), size);
    assert!(reply.iter().enumerate().all(|(i, &b)| b == pattern_byte(i)));
    assert_eq!(client.echo("after").unwrap(), b"after");
}

#[test]
fn many_small_pipelined_messages_arrive_in_order() {
    let scratch = Scratch::new("pipeline");
    let (ca, server) = open_server(&scratch);
    let mut client = tls_client(server.tls, ca.client_config(None));
    let count = 20_000;
    let mut batch = String::new();
    for i in 0..count {
        batch.push_str(&format!("ECHO m{i}\n"));
    }
    client.send(batch.as_bytes()).unwrap();
    for i in 0..count {
        assert_eq!(client.line().unwrap(), format!("m{i}").as_bytes());
    }
}

#[test]
fn plain_and_tls_ports_are_served_together() {
    let scratch = Scratch::new("mixed");
    let (ca, server) = open_server(&scratch);
    let mut secure = tls_client(server.tls, ca.client_config(None));
    let mut plain = plain_client(server.plain);
    for i in 0..50 {
        assert_eq!(
            plain.echo(&format!("p{i}")).unwrap(),
            format!("p{i}").as_bytes()
        );
        assert_eq!(
            secure.echo(&format!("s{i}")).unwrap(),
            format!("s{i}").as_bytes()
        );
    }
    plain.send(b"BIG 100000\n").unwrap();
    assert_eq!(plain.line().unwrap().len(), 100_000);
}

#[test]
fn quit_sends_the_reply_then_close_notify() {
    let scratch = Scratch::new("quit");
    let (ca, server) = open_server(&scratch);
    let mut client = tls_client(server.tls, ca.client_config(None));
    client.send(b"ECHO one\nQUIT\n").unwrap();
    assert_eq!(client.line().unwrap(), b"one");
    assert_eq!(client.line().unwrap(), b"BYE");
    // A clean TLS close reads as an empty end of stream; a TCP close
    // without close_notify would be an UnexpectedEof error here.
    assert_eq!(client.read_to_end().unwrap(), b"");
    server.wait_all_closed(1);
}

#[test]
fn client_close_notify_ends_the_connection() {
    let scratch = Scratch::new("client-close");
    let (ca, server) = open_server(&scratch);
    let mut client = tls_client(server.tls, ca.client_config(None));
    assert_eq!(client.echo("x").unwrap(), b"x");
    let stream = client.get_mut();
    stream.conn.send_close_notify();
    stream.flush().unwrap();
    assert_eq!(client.read_to_end().unwrap(), b"");
    server.wait_all_closed(1);
}

#[test]
fn auth_yes_requires_a_certificate_signed_by_the_ca() {
    let scratch = Scratch::new("auth-yes");
    let ca = Ca::new(&scratch, "main");
    let other_ca = Ca::new(&scratch, "other");
    let server_id = ca.server_identity(&scratch);
    let server = Server::start(&settings(&ca, &server_id, AuthClients::Yes));
    let good = ca.client_identity(&scratch, "good");
    let foreign = other_ca.client_identity(&scratch, "foreign");

    let mut anonymous = tls_client(server.tls, ca.client_config(None));
    assert!(
        anonymous.echo("a").is_err(),
        "a client without a certificate was served"
    );
    let mut stranger = tls_client(server.tls, ca.client_config(Some(&foreign)));
    assert!(
        stranger.echo("b").is_err(),
        "a certificate of another CA was accepted"
    );
    // The refused connections were accepted, then closed, and carried no
    // plaintext to the core.
    server.wait_all_closed(2);
    assert_eq!(server.counters.bytes_in.load(Ordering::Relaxed), 0);

    let mut member = tls_client(server.tls, ca.client_config(Some(&good)));
    assert_eq!(member.echo("c").unwrap(), b"c");
}

#[test]
fn auth_optional_accepts_clients_with_or_without_a_valid_certificate() {
    let scratch = Scratch::new("auth-optional");
    let ca = Ca::new(&scratch, "main");
    let other_ca = Ca::new(&scratch, "other");
    let server_id = ca.server_identity(&scratch);
    let server = Server::start(&settings(&ca, &server_id, AuthClients::Optional));
    let good = ca.client_identity(&scratch, "good");
    let foreign = other_ca.client_identity(&scratch, "foreign");

    let mut anonymous = tls_client(server.tls, ca.client_config(None));
    assert_eq!(anonymous.echo("a").unwrap(), b"a");
    let mut member = tls_client(server.tls, ca.client_config(Some(&good)));
    assert_eq!(member.echo("b").unwrap(), b"b");
    // A certificate that is presented is still verified.
    let mut stranger = tls_client(server.tls, ca.client_config(Some(&foreign)));
    assert!(
        stranger.echo("c").is_err(),
        "a certificate of another CA was accepted"
    );
}

#[test]
fn plain_text_client_on_the_tls_port_is_refused_alone() {
    let scratch = Scratch::new("plaintext");
    let (ca, server) = open_server(&scratch);
    let mut secure = tls_client(server.tls, ca.client_config(None));
    assert_eq!(secure.echo("before").unwrap(), b"before");

    let mut confused = plain_client(server.tls);
    confused.send(b"ECHO hi\r\n").unwrap();
    let answer = confused.read_to_end().unwrap_or_default();
    // Whatever came back is a TLS alert record (content type 21), never a
    // reply of the core.
    assert!(answer.is_empty() || answer[0] == 21, "got {answer:?}");
    assert!(!answer.windows(2).any(|w| w == b"hi"));

    assert_eq!(secure.echo("after").unwrap(), b"after");
    assert_eq!(server.counters.lines.load(Ordering::Relaxed), 2);
}

#[test]
fn clients_leaving_mid_handshake_are_closed_and_others_go_on() {
    let scratch = Scratch::new("mid-handshake");
    let (ca, server) = open_server(&scratch);
    // One connects and leaves without a byte; one sends its ClientHello,
    // reads the start of the server's answer, and leaves.
    drop(TcpStream::connect(server.tls).unwrap());
    let mut hello = Vec::new();
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = ClientConnection::new(ca.client_config(None), name).unwrap();
    conn.write_tls(&mut hello).unwrap();
    let mut halfway = TcpStream::connect(server.tls).unwrap();
    halfway.write_all(&hello).unwrap();
    let mut server_hello = [0u8; 1];
    halfway.read_exact(&mut server_hello).unwrap();
    assert_eq!(server_hello[0], 22, "the answer is a handshake record");
    drop(halfway);
    server.wait_all_closed(2);
    assert_eq!(server.counters.bytes_in.load(Ordering::Relaxed), 0);

    let mut client = tls_client(server.tls, ca.client_config(None));
    assert_eq!(client.echo("still").unwrap(), b"still");
}

#[test]
fn stop_request_ends_the_loop_with_clients_connected() {
    let scratch = Scratch::new("stop");
    let (ca, mut server) = open_server(&scratch);
    let mut client = tls_client(server.tls, ca.client_config(None));
    assert_eq!(client.echo("up").unwrap(), b"up");
    let mut half_open = TcpStream::connect(server.tls).unwrap();
    half_open.write_all(&[22, 3, 1]).unwrap();
    server.stop().expect("the loop returned an error");
    let mut rest = Vec::new();
    let _ = half_open.read_to_end(&mut rest);
}

#[test]
fn client_config_checks_the_chain_but_not_the_name() {
    let scratch = Scratch::new("client-verify");
    let (ca, server) = open_server(&scratch);
    // As a Redis replica: a primary dialled by another name (or an IP the
    // certificate does not list) is accepted when its chain is trusted.
    let mut renamed = tls_client_for(server.tls, ca.client_config(None), "elsewhere.example");
    assert_eq!(renamed.echo("named").unwrap(), b"named");
    // A chain from a CA the client does not trust is refused.
    let other_ca = Ca::new(&scratch, "other");
    let mut distrustful = tls_client(server.tls, other_ca.client_config(None));
    let err = distrustful.echo("x").unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}

#[test]
fn configuration_errors_name_what_is_wrong() {
    let scratch = Scratch::new("config");
    let ca = Ca::new(&scratch, "main");
    let server_id = ca.server_identity(&scratch);
    let other_id = ca.server_identity_named(&scratch, "other-server");
    let good = settings(&ca, &server_id, AuthClients::Yes);
    assert!(server_config(&good).is_ok());

    let missing = TlsSettings {
        cert_file: scratch.0.join("absent.crt"),
        ..good.clone()
    };
    assert!(matches!(
        server_config(&missing),
        Err(TlsError::UnreadableFile { .. })
    ));

    let garbage = scratch.write("garbage.crt", "-----BEGIN CERTIFICATE-----\n!!!!\n");
    let bad_pem = TlsSettings {
        cert_file: garbage,
        ..good.clone()
    };
    assert!(matches!(
        server_config(&bad_pem),
        Err(TlsError::BadPem { .. })
    ));

    let no_key = TlsSettings {
        key_file: server_id.cert_file.clone(),
        ..good.clone()
    };
    assert!(matches!(
        server_config(&no_key),
        Err(TlsError::NoPrivateKey { .. })
    ));

    let empty = scratch.write("empty.crt", "nothing here\n");
    let no_cert = TlsSettings {
        cert_file: empty,
        ..good.clone()
    };
    assert!(matches!(
        server_config(&no_cert),
        Err(TlsError::NoCertificate { .. })
    ));

    let mismatch = TlsSettings {
        key_file: other_id.key_file.clone(),
        ..good.clone()
    };
    let err = server_config(&mismatch).unwrap_err();
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");

    let no_ca = TlsSettings {
        ca_cert_file: None,
        ..good.clone()
    };
    let err = server_config(&no_ca).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!"
    );
    let no_ca_no_auth = TlsSettings {
        ca_cert_file: None,
        auth_clients: AuthClients::No,
        ..good.clone()
    };
    assert!(server_config(&no_ca_no_auth).is_ok());
    assert_eq!(AuthClients::parse("OPTIONAL"), Some(AuthClients::Optional));
    assert_eq!(AuthClients::parse("maybe"), None);
}
