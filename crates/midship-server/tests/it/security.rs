//! Holes an outside tester found, each driven from outside as the tester did: connections that
//! hold the node's file handles, metrics that grow from outside.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use midship_server::{ConnectionLimits, ServerSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::TestServer;

fn address_of(server: &TestServer) -> SocketAddr {
    server.base_url.trim_start_matches("http://").parse().unwrap()
}

/// A connection from another loopback address, as a second host would make.
async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// What the server sends before it closes the connection, or `None` if it is still open after
/// `patience`.
async fn read_until_closed(stream: &mut TcpStream, patience: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let reading = async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        }
    };
    tokio::time::timeout(patience, reading).await.ok().map(|()| received)
}

async fn fastest_health_check(server: &TestServer) -> Duration {
    let mut fastest = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let response = server.http.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        fastest = fastest.min(started.elapsed());
    }
    fastest
}

#[tokio::test]
async fn one_host_cannot_hold_the_node() {
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        max_connections_per_address: 100,
        ..ConnectionLimits::default()
    };
    let server = TestServer::start_with(ServerSettings { connections: limits, ..ServerSettings::default() }).await;
    let address = address_of(&server);

    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(connect_from("127.0.0.2", address).await);
    }
    let fastest = fastest_health_check(&server).await;
    assert!(fastest < Duration::from_millis(100), "/healthz took {fastest:?} beside 300 idle sockets");

    // Past the per-address cap, connections are told 503 and closed at once.
    let mut refused = 0;
    for stream in idle.iter_mut().skip(100) {
        let answer = read_until_closed(stream, Duration::from_millis(500)).await.expect("closed at once");
        assert!(answer.starts_with(b"HTTP/1.1 503"), "{}", String::from_utf8_lossy(&answer));
        refused += 1;
    }
    assert_eq!(refused, 200);
    // The admitted ones that never send a request are closed at the header timeout.
    for stream in idle.iter_mut().take(100) {
        assert!(read_until_closed(stream, Duration::from_secs(5)).await.is_some(), "an idle socket stayed open");
    }

    // Half-sent headers, and a body announced but never sent, are cut off too.
    let mut half_sent = connect_from("127.0.0.3", address).await;
    half_sent.write_all(b"GET /healthz HTTP/1.1\r\nHost: midship\r\n").await.unwrap();
    assert!(read_until_closed(&mut half_sent, Duration::from_secs(5)).await.is_some(), "half-sent headers held");
    let mut silent_body = connect_from("127.0.0.3", address).await;
    silent_body.write_all(b"POST /mgw HTTP/1.1\r\nHost: midship\r\nContent-Length: 1000\r\n\r\n{\"a\":").await.unwrap();
    assert!(read_until_closed(&mut silent_body, Duration::from_secs(5)).await.is_some(), "a stalled body held");

    // Once the holders are gone, the address is welcome again.
    drop(idle);
    let mut again = connect_from("127.0.0.2", address).await;
    again.write_all(b"GET /healthz HTTP/1.1\r\nHost: midship\r\nConnection: close\r\n\r\n").await.unwrap();
    let answer = read_until_closed(&mut again, Duration::from_secs(5)).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
}

#[tokio::test]
async fn made_up_methods_do_not_grow_the_metrics() {
    let server = TestServer::start().await;
    let send_with_method = async |method: &str| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        server.http.request(method, server.url("/healthz")).send().await.unwrap();
    };
    send_with_method("FROB0").await;
    let metrics = || async { server.http.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap() };
    // The first scrape puts /metrics itself among the series.
    metrics().await;
    let before = metrics().await;
    for index in 1..200 {
        send_with_method(&format!("FROB{index}")).await;
    }
    let after = metrics().await;
    assert!(!after.contains("FROB"), "a client's method became a label");
    assert!(after.contains(r#"method="other""#), "{after}");
    assert!(after.len() < before.len() + 200, "metrics grew from {} to {} bytes", before.len(), after.len());
}
