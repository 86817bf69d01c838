//! A TCP proxy between the tool and a server that injects faults into the
//! server-to-client bytes: the n-th connection to pass `at` bytes is reset
//! (RST) or stalled there, as planned; with `cut`, the first is reset there
//! and every later one at once (a permanent fault).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What happens to a connection once it has carried `at` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Reset the connection (RST to the client).
    Reset,
    /// Send nothing more for this long, then close.
    Stall(Duration),
}

struct Plan {
    /// Connections passed untouched before the faults start.
    skip: AtomicUsize,
    at: u64,
    faults: Mutex<Vec<Fault>>,
    cut: bool,
    fired: AtomicUsize,
}

/// A running proxy; stopped on drop.
pub struct Proxy {
    /// The port it listens on.
    pub port: u16,
    plan: Arc<Plan>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// A proxy to `target` that applies `faults` in order, one per
    /// connection that reaches `at` bytes, then passes everything.
    pub fn start(target: u16, at: u64, faults: Vec<Fault>) -> Proxy {
        Proxy::with_plan(target, 0, at, faults, false)
    }

    /// As [`Proxy::start`], passing the first `skip` connections untouched.
    pub fn skipping(target: u16, skip: usize, at: u64, faults: Vec<Fault>) -> Proxy {
        Proxy::with_plan(target, skip, at, faults, false)
    }

    /// A proxy to `target` that passes the first `skip` connections, then
    /// resets the next one after `at` bytes and every later one at once
    /// (a permanent cut).
    pub fn cutting(target: u16, skip: usize, at: u64) -> Proxy {
        Proxy::with_plan(target, skip, at, Vec::new(), true)
    }

    fn with_plan(target: u16, skip: usize, at: u64, mut faults: Vec<Fault>, cut: bool) -> Proxy {
        faults.reverse();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let plan = Arc::new(Plan {
            skip: AtomicUsize::new(skip),
            at,
            faults: Mutex::new(faults),
            cut,
            fired: AtomicUsize::new(0),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (Arc::clone(&plan), Arc::clone(&stop));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                if p.cut && p.fired.load(Ordering::SeqCst) > 0 {
                    p.fired.fetch_add(1, Ordering::SeqCst);
                    let _ = rustix::net::sockopt::set_socket_linger(&client, Some(Duration::ZERO));
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let p = Arc::clone(&p);
                let skipped = p
                    .skip
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || pump_plain(c2, s2));
                match skipped {
                    true => std::thread::spawn(move || pump_plain(server, client)),
                    false => std::thread::spawn(move || pump_faulty(server, client, &p)),
                };
            }
        });
        Proxy { port, plan, stop }
    }

    /// How many faults were injected.
    pub fn fired(&self) -> usize {
        self.plan.fired.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn pump_plain(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16384];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn pump_faulty(mut from: TcpStream, mut to: TcpStream, plan: &Plan) {
    let mut buf = [0u8; 16384];
    let mut sent = 0u64;
    let mut armed = true;
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        if armed && sent + n as u64 >= plan.at {
            let fault = match plan.cut {
                true => Some(Fault::Reset),
                false => plan.faults.lock().unwrap().pop(),
            };
            armed = false;
            if let Some(fault) = fault {
                let keep = (plan.at - sent) as usize;
                let _ = to.write_all(&chunk[..keep]);
                let _ = to.flush();
                plan.fired.fetch_add(1, Ordering::SeqCst);
                match fault {
                    Fault::Reset => reset(&to),
                    Fault::Stall(d) => {
                        std::thread::sleep(d);
                        let _ = to.shutdown(Shutdown::Both);
                    }
                }
                let _ = from.shutdown(Shutdown::Both);
                return;
            }
            chunk = &buf[..n];
        }
        if to.write_all(chunk).is_err() {
            break;
        }
        sent += n as u64;
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Closes `s` with a reset (SO_LINGER 0).
fn reset(s: &TcpStream) {
    let _ = rustix::net::sockopt::set_socket_linger(s, Some(Duration::ZERO));
    // The other pump's read of the client ends; when it drops its handle
    // too, the socket closes with a reset.
    let _ = s.shutdown(Shutdown::Read);
}
