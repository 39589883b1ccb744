//! Per-blob progress on a terminal, drawn the way `docker pull` draws it: one line per
//! blob (short digest, state, a bar, bytes done / total), rewritten in place with ANSI
//! cursor movement. Only ever constructed for a terminal: callers that print to a pipe or
//! file get no progress at all, so scripts never see escape codes.

use std::io::{self, IsTerminal, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Redraws for byte counts happen at most this often; state changes redraw at once.
const REDRAW: Duration = Duration::from_millis(100);
const BAR_WIDTH: usize = 50;

/// The words a command uses for its transfers (`docker pull`: Downloading / Pull complete).
#[derive(Clone, Copy, Debug)]
pub struct Verbs {
    pub active: &'static str,
    pub done: &'static str,
}

pub const PULL: Verbs = Verbs {
    active: "Downloading",
    done: "Pull complete",
};
pub const PUSH: Verbs = Verbs {
    active: "Pushing",
    done: "Pushed",
};
pub const COPY: Verbs = Verbs {
    active: "Copying",
    done: "Copied",
};

#[derive(Clone, Debug, PartialEq)]
enum State {
    Waiting,
    Active,
    Compressing,
    Exists,
    Mounted(String),
    Done,
    Failed,
}

struct Line {
    id: String,
    state: State,
    done: u64,
    total: u64,
}

struct Screen {
    out: Box<dyn Write + Send>,
    lines: Vec<Line>,
    drawn: usize,
    last: Instant,
}

/// The progress display of one command.
pub struct Progress {
    verbs: Verbs,
    screen: Mutex<Screen>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("verbs", &self.verbs)
            .finish()
    }
}

impl Progress {
    /// Progress on standard output when it is a terminal; `None` otherwise.
    pub fn stdout_if_terminal(verbs: Verbs) -> Option<Arc<Progress>> {
        io::stdout()
            .is_terminal()
            .then(|| Progress::new(Box::new(io::stdout()), verbs))
    }

    pub fn new(out: Box<dyn Write + Send>, verbs: Verbs) -> Arc<Progress> {
        Arc::new(Progress {
            verbs,
            screen: Mutex::new(Screen {
                out,
                lines: Vec::new(),
                drawn: 0,
                last: Instant::now(),
            }),
        })
    }

    /// Add a line for a blob of `total` bytes; it starts as "Waiting".
    pub fn add(self: &Arc<Progress>, digest: &crate::Digest, total: u64) -> Bar {
        let id: String = digest.hex().chars().take(12).collect();
        let mut s = self.lock();
        // The same blob may be asked for twice (an index whose images share layers).
        let index = match s.lines.iter().position(|l| l.id == id) {
            Some(i) => i,
            None => {
                s.lines.push(Line {
                    id,
                    state: State::Waiting,
                    done: 0,
                    total,
                });
                s.lines.len() - 1
            }
        };
        self.draw(&mut s);
        Bar {
            progress: self.clone(),
            index,
        }
    }

    /// Draw the final state of every line.
    pub fn finish(&self) {
        let mut s = self.lock();
        self.draw(&mut s);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Screen> {
        self.screen.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn draw(&self, s: &mut Screen) {
        let mut text = String::new();
        if s.drawn > 0 {
            text.push_str(&format!("\x1b[{}A", s.drawn));
        }
        for l in &s.lines {
            text.push_str("\x1b[2K");
            text.push_str(&self.render(l));
            text.push('\n');
        }
        s.drawn = s.lines.len();
        s.last = Instant::now();
        // A terminal that went away is no reason to fail the copy itself.
        let _ = s.out.write_all(text.as_bytes());
        let _ = s.out.flush();
    }

    fn render(&self, l: &Line) -> String {
        let sizes = format!("{}/{}", human_size(l.done), human_size(l.total));
        match &l.state {
            State::Waiting => format!("{}: Waiting", l.id),
            State::Active => format!(
                "{}: {} {} {sizes}",
                l.id,
                self.verbs.active,
                bar(l.done, l.total)
            ),
            State::Compressing => {
                format!("{}: Compressing {} {sizes}", l.id, bar(l.done, l.total))
            }
            State::Exists => format!("{}: Already exists", l.id),
            State::Mounted(from) => format!("{}: Mounted from {from}", l.id),
            State::Done => format!("{}: {} {}", l.id, self.verbs.done, human_size(l.total)),
            State::Failed => format!("{}: Failed at {sizes}", l.id),
        }
    }
}

/// One blob's line.
pub struct Bar {
    progress: Arc<Progress>,
    index: usize,
}

impl Bar {
    fn update(&self, force: bool, f: impl FnOnce(&mut Line)) {
        let mut s = self.progress.lock();
        if let Some(l) = s.lines.get_mut(self.index) {
            f(l);
        }
        if force || s.last.elapsed() >= REDRAW {
            self.progress.draw(&mut s);
        }
    }

    /// The transfer starts (or starts over: a retried upload counts from zero).
    pub fn start(&self) {
        self.update(true, |l| {
            l.state = State::Active;
            l.done = 0;
        });
    }

    /// Recompression (`--dest-compress-format`) reads the source before the upload.
    pub fn compressing(&self) {
        self.update(true, |l| {
            l.state = State::Compressing;
            l.done = 0;
        });
    }

    /// The blob's size changed (recompressed output is uploaded next).
    pub fn set_total(&self, total: u64) {
        self.update(false, |l| l.total = total);
    }

    pub fn advance(&self, n: u64) {
        self.update(false, |l| l.done += n);
    }

    pub fn exists(&self) {
        self.update(true, |l| l.state = State::Exists);
    }

    pub fn mounted(&self, from: &str) {
        let from = from.to_string();
        self.update(true, |l| l.state = State::Mounted(from));
    }

    pub fn done(&self) {
        self.update(true, |l| {
            l.state = State::Done;
            l.done = l.total;
        });
    }

    pub fn failed(&self) {
        self.update(true, |l| l.state = State::Failed);
    }

    /// Wrap a reader so every byte read advances this bar.
    pub fn reader<'a>(&'a self, inner: &'a mut dyn Read) -> CountingReader<'a> {
        CountingReader { inner, bar: self }
    }
}

pub struct CountingReader<'a> {
    inner: &'a mut dyn Read,
    bar: &'a Bar,
}

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.advance(n as u64);
        Ok(n)
    }
}

/// `[=====>     ]` like docker's progress bar.
fn bar(done: u64, total: u64) -> String {
    let filled = if total == 0 {
        0
    } else {
        ((done.min(total) as u128 * BAR_WIDTH as u128) / total as u128) as usize
    };
    let mut s = String::with_capacity(BAR_WIDTH + 2);
    s.push('[');
    for i in 0..BAR_WIDTH {
        s.push(match i.cmp(&filled) {
            std::cmp::Ordering::Less => '=',
            std::cmp::Ordering::Equal => '>',
            std::cmp::Ordering::Greater => ' ',
        });
    }
    s.push(']');
    s
}

/// Decimal units with three significant digits, as docker's `units.HumanSize` prints.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        return format!("{n}B");
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$}{}", UNITS[u])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_redrawn_in_place() {
        let sink = Sink::default();
        let p = Progress::new(Box::new(sink.clone()), PULL);
        let a = p.add(&crate::Digest::of(b"a"), 2_000_000);
        let b = p.add(&crate::Digest::of(b"b"), 10);
        a.start();
        a.advance(1_000_000);
        b.exists();
        a.done();
        p.finish();
        let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let da = crate::Digest::of(b"a");
        let id = &da.hex()[..12];
        assert!(out.contains(&format!("{id}: Downloading [")), "{out}");
        assert!(out.contains("1.00MB/2.00MB"), "{out}");
        assert!(
            out.contains(&format!("{id}: Pull complete 2.00MB")),
            "{out}"
        );
        assert!(out.contains(": Already exists"), "{out}");
        // Each redraw after the first moves the cursor up over the two lines.
        assert!(out.contains("\x1b[2A\x1b[2K"), "{out:?}");
    }

    #[test]
    fn sizes_and_bars() {
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1_500), "1.50kB");
        assert_eq!(human_size(123_456_789), "123MB");
        assert_eq!(bar(0, 0).len(), BAR_WIDTH + 2);
        assert!(bar(5, 10).starts_with("[=========================>"));
        assert_eq!(bar(10, 10), format!("[{}]", "=".repeat(BAR_WIDTH)));
    }
}
