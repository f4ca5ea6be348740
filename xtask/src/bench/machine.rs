//! The machine: a description for the report, and waiting for it to be idle.
//!
//! Reads `/proc` only (Linux). Idleness is judged on the CPU time that other
//! processes used over a short window of `/proc/stat`, and `/proc/loadavg` is
//! shown alongside: the load average alone trails a finished build (and our
//! own previous run) by minutes, so waiting on it would mostly wait for
//! ourselves.

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

/// What the report says about the machine.
#[derive(Debug, Clone)]
pub struct MachineInfo {
    pub cpu_model: String,
    /// Logical CPUs online.
    pub cpus: usize,
    /// Physical cores, when /proc/cpuinfo tells.
    pub cores: Option<usize>,
    pub ram_gib: f64,
    pub kernel: String,
    /// Vector extensions relevant to ggml's CPU kernels.
    pub flags: Vec<String>,
}

impl MachineInfo {
    /// Reads /proc/cpuinfo, /proc/meminfo and /proc/sys/kernel/osrelease.
    pub fn read() -> Self {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let mut info = parse_cpuinfo(&cpuinfo);
        info.ram_gib = parse_mem_total_kib(&meminfo).unwrap_or(0) as f64 / (1024.0 * 1024.0);
        info.kernel = kernel;
        if info.cpus == 0 {
            info.cpus = thread::available_parallelism().map_or(1, usize::from);
        }
        info
    }

    /// One line for logs and the report.
    pub fn summary(&self) -> String {
        let cores = self
            .cores
            .map_or_else(String::new, |c| format!(", {c} physical cores"));
        format!(
            "{} — {} logical CPUs{cores}, {:.1} GiB RAM, Linux {}; {}",
            self.cpu_model,
            self.cpus,
            self.ram_gib,
            self.kernel,
            if self.flags.is_empty() {
                "no AVX".to_owned()
            } else {
                self.flags.join(" ")
            }
        )
    }
}

fn parse_cpuinfo(text: &str) -> MachineInfo {
    let field = |name: &str| {
        text.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    let cpus = text
        .lines()
        .filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor"))
        .count();
    let cores = field("cpu cores").and_then(|c| c.parse().ok());
    let flags_line = field("flags").unwrap_or_default();
    let wanted = [
        "avx",
        "avx2",
        "fma",
        "f16c",
        "avx_vnni",
        "avx512f",
        "avx512bw",
        "avx512vl",
        "avx512_vnni",
        "avx512_bf16",
        "avx512vbmi",
        "amx_tile",
    ];
    let flags = wanted
        .iter()
        .filter(|w| flags_line.split(' ').any(|f| f == **w))
        .map(|w| (*w).to_owned())
        .collect();
    MachineInfo {
        cpu_model: field("model name").unwrap_or_else(|| "unknown CPU".into()),
        cpus,
        cores,
        ram_gib: 0.0,
        kernel: String::new(),
        flags,
    }
}

fn parse_mem_total_kib(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Aggregate CPU jiffies from the first line of /proc/stat: (busy, total).
fn parse_stat(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

/// Fraction (0–1) of all CPUs busy over `window`, or `None` off Linux.
pub fn busy_fraction(window: Duration) -> Option<f64> {
    let read = || parse_stat(&fs::read_to_string("/proc/stat").ok()?);
    let (b0, t0) = read()?;
    thread::sleep(window);
    let (b1, t1) = read()?;
    let dt = t1.saturating_sub(t0);
    (dt > 0).then(|| b1.saturating_sub(b0) as f64 / dt as f64)
}

/// The three load averages, as text.
pub fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// How an idle wait ended.
#[derive(Debug, Clone, Copy)]
pub struct IdleWait {
    pub waited: Duration,
    /// Busy fraction in the last window.
    pub busy: f64,
    /// Whether the machine was idle (false: the wait hit its bound).
    pub is_idle: bool,
}

/// Waits until less than `threshold` of the CPUs were busy over a 2-second
/// window, for at most `max_wait`.
pub fn wait_idle(threshold: f64, max_wait: Duration) -> IdleWait {
    let start = Instant::now();
    let mut announced = false;
    loop {
        let busy = busy_fraction(Duration::from_secs(2)).unwrap_or(0.0);
        let waited = start.elapsed();
        if busy <= threshold {
            return IdleWait {
                waited,
                busy,
                is_idle: true,
            };
        }
        if waited >= max_wait {
            println!(
                "         machine still busy ({:.0}% CPU, load {}) after {:.0}s: running anyway",
                busy * 100.0,
                loadavg(),
                waited.as_secs_f64()
            );
            return IdleWait {
                waited,
                busy,
                is_idle: false,
            };
        }
        if !announced {
            println!(
                "         waiting for an idle machine ({:.0}% CPU busy, load {}; threshold {:.0}%, at most {:.0}s)",
                busy * 100.0,
                loadavg(),
                threshold * 100.0,
                max_wait.as_secs_f64()
            );
            announced = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_and_meminfo_are_read() {
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC\ncpu cores\t: 1\nflags\t\t: fpu avx avx2 fma avx512f\n\nprocessor\t: 1\nmodel name\t: AMD EPYC\n";
        let info = parse_cpuinfo(cpuinfo);
        assert_eq!(info.cpu_model, "AMD EPYC");
        assert_eq!(info.cpus, 2);
        assert_eq!(info.cores, Some(1));
        assert_eq!(info.flags, vec!["avx", "avx2", "fma", "avx512f"]);
        assert_eq!(
            parse_mem_total_kib("MemTotal:       24576000 kB\n"),
            Some(24_576_000)
        );
    }

    #[test]
    fn stat_busy_excludes_idle_and_iowait() {
        let stat = "cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 1 2 3 4\n";
        assert_eq!(parse_stat(stat), Some((160, 980)));
    }
}
