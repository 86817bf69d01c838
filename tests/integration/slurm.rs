//! A real one-node Slurm cluster for the tests: `munged`, `slurmctld` and
//! `slurmd` (Debian's `munge` and `slurm-wlm`) run in the foreground from a
//! configuration in a temporary directory, listen on 127.0.0.1 only, and
//! are stopped by PID on drop. The node is this host with its real CPU
//! count and 90% of its memory. Needs root (slurmd runs jobs as their
//! user).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::broker::free_port;

/// How to get Slurm, printed when it is missing.
const INSTALL: &str = "the Slurm tests need Debian's slurm-wlm and munge, run as root: \
`scripts/install-test-servers.sh` (README's test command runs it; it does `apt-get install slurm-wlm munge`)";

/// The path of a Slurm or munge program: on PATH, else in /usr/sbin.
fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` not found: {INSTALL}"))
}

/// The state of one array task, from `scontrol show job`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// `COMPLETED`, `FAILED`, `CANCELLED`, ...
    pub state: String,
    /// `STATUS:SIGNAL`, e.g. `1:0`.
    pub exit_code: String,
    /// The task's trackable resources, e.g. `cpu=1,mem=700M,node=1,billing=1`.
    pub tres: String,
}

/// A running one-node cluster.
pub struct Cluster {
    dir: tempfile::TempDir,
    daemons: Vec<(&'static str, Child)>,
    conf: PathBuf,
}

impl Cluster {
    /// Writes the configuration, starts the daemons and waits until the
    /// node is idle.
    pub fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        // munged refuses a socket in a directory others cannot search.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let d = dir.path().to_path_buf();
        for sub in ["state", "spool"] {
            std::fs::create_dir(d.join(sub)).unwrap();
        }
        let key = d.join("munge.key");
        let made = Command::new(program("mungekey"))
            .arg("--create")
            .arg(format!("--keyfile={}", key.display()))
            .output()
            .unwrap();
        assert!(made.status.success(), "mungekey: {made:?}");
        let conf = d.join("slurm.conf");
        std::fs::write(&conf, config(&d)).unwrap();
        let mut cluster = Cluster {
            daemons: Vec::new(),
            conf,
            dir,
        };
        let socket = format!("--socket={}", d.join("munge.sock").display());
        cluster.spawn(
            "munged",
            &[
                "-F",
                "-f",
                &socket,
                &format!("--key-file={}", key.display()),
                &format!("--pid-file={}", d.join("munged.pid").display()),
                &format!("--log-file={}", d.join("munged.log").display()),
                &format!("--seed-file={}", d.join("munged.seed").display()),
            ],
        );
        cluster.wait_for("munged's socket", |_| d.join("munge.sock").exists());
        cluster.spawn("slurmctld", &["-D", "-i"]);
        cluster.spawn("slurmd", &["-D", "-N", "localhost"]);
        cluster.wait_for("the node to be idle", |cluster| {
            let out = cluster.command("sinfo").args(["-h", "-o", "%T"]).output();
            out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
        });
        cluster
    }

    fn spawn(&mut self, name: &'static str, args: &[&str]) {
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.out"))).unwrap();
        let child = Command::new(program(name))
            .args(args)
            .env("SLURM_CONF", &self.conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}; {INSTALL}"));
        self.daemons.push((name, child));
    }

    /// Polls `ready` every 50 ms for up to 30 s; fails if a daemon exits.
    fn wait_for(&mut self, what: &str, ready: impl Fn(&Cluster) -> bool) {
        let start = Instant::now();
        while !ready(self) {
            let exited = self.daemons.iter_mut().find_map(|(name, child)| {
                let status = child.try_wait().unwrap()?;
                Some(format!("{name} exited ({status})"))
            });
            if let Some(exited) = exited {
                panic!("{exited} ({INSTALL}): {}", self.logs());
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "waited 30 s for {what}: {}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the daemons logged, for failure messages.
    pub fn logs(&self) -> String {
        [
            "munged.out",
            "slurmctld.log",
            "slurmd.log",
            "slurmctld.out",
            "slurmd.out",
        ]
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
            format!("\n--- {f}\n{text}")
        })
        .collect()
    }

    /// A Slurm client command (`sbatch`, `squeue`, ...) for this cluster.
    pub fn command(&self, name: &str) -> Command {
        let mut command = Command::new(program(name));
        command.env("SLURM_CONF", &self.conf);
        command
    }

    /// Runs a client command and returns its output, failing on an error.
    pub fn run<S: AsRef<OsStr>>(&self, name: &str, args: &[S]) -> Output {
        let out = self.command(name).args(args).output().unwrap();
        assert!(out.status.success(), "{name}: {out:?}{}", self.logs());
        out
    }

    /// Submits; returns the job id.
    pub fn sbatch(&self, mut command: Command) -> String {
        let out = command.output().unwrap();
        assert!(out.status.success(), "sbatch: {out:?}{}", self.logs());
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// An `sbatch --parsable` command for this cluster.
    pub fn sbatch_command(&self) -> Command {
        let mut command = self.command("sbatch");
        command.arg("--parsable");
        command
    }

    /// The state of a job's task as squeue sees it (`RUNNING`, ...), empty
    /// once it has ended.
    pub fn queue_state(&self, job: &str) -> String {
        let out = self.run("squeue", &["-h", "-o", "%T", "-j", job]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Waits (polling squeue every 100 ms, up to 120 s) until the job has
    /// left the queue.
    pub fn wait(&self, job: &str) {
        let start = Instant::now();
        while !self.queue_state(job).is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "job {job} still queued after 120 s{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every task of an array job by task id.
    pub fn tasks(&self, job: &str) -> BTreeMap<u32, Task> {
        let out = self.run("scontrol", &["show", "job", "-o", job]);
        let mut tasks = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let field = |name: &str| -> String {
                line.split(' ')
                    .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
                    .unwrap_or_else(|| panic!("no {name} in {line}"))
                    .to_string()
            };
            let task = Task {
                state: field("JobState"),
                exit_code: field("ExitCode"),
                tres: field("TRES"),
            };
            tasks.insert(field("ArrayTaskId").parse().unwrap(), task);
        }
        tasks
    }
}

/// slurm.conf for one node, `localhost`, with everything under `dir`.
fn config(dir: &Path) -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let d = dir.display();
    format!(
        "ClusterName=telescope
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld}
SlurmdPort={slurmd}
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={d}/munge.sock,cred_expire=5
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,sched_interval=1
JobCompType=jobcomp/filetxt
JobCompLoc={d}/jobcomp.txt
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
MinJobAge=3600
KillWait=10
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
",
        ctld = free_port(),
        slurmd = free_port(),
        // Less than slurmd counts, or it would drain the node.
        mem = kib / 1024 * 9 / 10,
    )
}

impl Drop for Cluster {
    /// SIGTERM to each daemon by PID, slurmd first; SIGKILL after 10 s.
    fn drop(&mut self) {
        for (_, child) in self.daemons.iter_mut().rev() {
            let pid = rustix::process::Pid::from_child(child);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let start = Instant::now();
            while child.try_wait().ok().flatten().is_none() {
                if start.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}
