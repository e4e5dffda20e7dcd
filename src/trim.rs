//! Giving back the memory that start-up and loads touched and idling does not need.
//!
//! A daemon's resident memory after start-up is mostly pages it used once: code that parsed
//! the configuration and the crontabs, opened the history, looked up users, and the pages the
//! kernel mapped around them (it maps up to 64 KiB around each page that faults). Idle, the
//! loop runs a few KiB of that. [`trim`] hands the rest back: heap memory freed since
//! (`malloc_trim`), and the page-table entries of read-only file mappings (the program's and
//! the libraries' code and constants). Those pages stay in the page cache, shared with every
//! other program using them, and the daemon faults in again what it runs next; what nobody
//! runs, the kernel may evict.
//!
//! Only mappings that are read-only, backed by a file and hold no private copy of a page
//! (smaps' `Anonymous: 0`) are touched: dropping a private copy would lose what the loader
//! wrote there (relocations), so those are left alone.

use std::fs::File;
use std::io::{BufRead, BufReader};

/// Hands back what idling does not need; returns how many KiB of mappings were dropped.
/// Called when the daemon goes idle after start-up and after loads, never per job.
pub fn trim() -> usize {
    // SAFETY: malloc_trim only releases free memory of malloc's arenas; no pointer changes.
    unsafe {
        libc::malloc_trim(0);
    }
    let Ok(smaps) = File::open("/proc/self/smaps") else {
        return 0;
    };
    let mut dropped = 0;
    let mut current: Option<(usize, usize, bool)> = None;
    let mut flush = |m: Option<(usize, usize, bool)>| {
        if let Some((start, end, true)) = m {
            // SAFETY: the range is a whole read-only file mapping of this process with no
            // private page in it, so its contents are the file's: dropping the page-table
            // entries changes no byte any thread can read, only when it is faulted in.
            let done = unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED)
            };
            if done == 0 {
                dropped += (end - start) / 1024;
            }
        }
    };
    for line in BufReader::new(smaps).lines() {
        let Ok(line) = line else { break };
        if let Some(mapping) = mapping_line(&line) {
            flush(current.take());
            current = mapping.map(|(s, e)| (s, e, false));
        } else if let Some(anonymous) = line.strip_prefix("Anonymous:") {
            // Known only now: the mapping may be dropped if no page of it is a private copy.
            if let Some(m) = current.as_mut() {
                m.2 = anonymous.trim().trim_end_matches("kB").trim() == "0";
            }
        }
    }
    flush(current);
    dropped
}

/// For the header line of a mapping: `Some(Some(range))` if it is read-only and backed by a
/// file, `Some(None)` for any other mapping; `None` for the lines inside a mapping.
fn mapping_line(line: &str) -> Option<Option<(usize, usize)>> {
    let mut parts = line.split_whitespace();
    let range = parts.next()?;
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = parts.next()?;
    let _offset = parts.next()?;
    let _device = parts.next()?;
    let inode = parts.next()?;
    let path = parts.next().unwrap_or("");
    let read_only = perms.len() == 4 && perms.starts_with('r') && &perms[1..2] == "-";
    Some((read_only && inode != "0" && path.starts_with('/')).then_some((start, end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_read_only_file_mappings_are_taken() {
        let text = "55d0c0a00000-55d0c0b00000 r-xp 00002000 fd:01 1234  /usr/sbin/cronwrightd";
        assert_eq!(
            mapping_line(text),
            Some(Some((0x55d0c0a00000, 0x55d0c0b00000)))
        );
        for other in [
            "7f00-8f00 rw-p 00000000 00:00 0 ",
            "7f00-8f00 rw-p 00001000 fd:01 1234  /usr/lib/libc.so.6",
            "7f00-8f00 r--p 00000000 00:00 0  [vvar]",
            "7f00-8f00 r-xp 00000000 00:00 0  [vdso]",
        ] {
            assert_eq!(mapping_line(other), Some(None), "{other}");
        }
        assert_eq!(mapping_line("Anonymous:             0 kB"), None);
        assert_eq!(mapping_line("VmFlags: rd ex mr mw me"), None);
    }

    #[test]
    fn trimming_keeps_the_program_running() {
        // The test binary's own code is dropped and faulted back in as it runs on.
        trim();
        let v: Vec<u64> = (0..1000).collect();
        assert_eq!(v.iter().sum::<u64>(), 499_500);
    }
}
