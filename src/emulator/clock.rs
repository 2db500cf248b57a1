//! Emulated time: release tasks advance on a clock that runs `speed` times faster than the wall
//! clock, so a test at speed 100 sees a three-second release finish in 30 ms.

use std::time::Instant;

use chrono::{DateTime, FixedOffset, Utc};

/// One reading of both clocks, passed to the pure state functions so they never read time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Now {
    /// Emulated milliseconds since the emulator's state was created (survives restarts).
    pub emu_ms: u64,
    /// The wall clock, for the timestamps the API shows.
    pub wall: DateTime<Utc>,
}

impl Now {
    /// A reading for tests and pure callers.
    pub fn at(emu_ms: u64, wall: DateTime<Utc>) -> Self {
        Now { emu_ms, wall }
    }

    /// The wall time as the API prints it: Beijing time, `YYYY-MM-DD HH:MM:SS`.
    pub fn stamp(&self) -> String {
        stamp(self.wall)
    }
}

/// Formats a time the way CloudBase Run does (`2024-09-13 10:31:56`, Asia/Shanghai, UTC+8).
pub fn stamp(wall: DateTime<Utc>) -> String {
    let beijing = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    wall.with_timezone(&beijing)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The emulator's clock: emulated time starts at `base_ms` (restored from the state file) and
/// runs `speed` times the real elapsed time.
#[derive(Debug, Clone)]
pub struct Clock {
    started: Instant,
    base_ms: u64,
    speed: f64,
}

impl Clock {
    pub fn new(base_ms: u64, speed: f64) -> Self {
        Clock {
            started: Instant::now(),
            base_ms,
            speed,
        }
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    pub fn now(&self) -> Now {
        let real_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        Now {
            emu_ms: self.base_ms + (real_ms * self.speed) as u64,
            wall: Utc::now(),
        }
    }

    /// Converts an emulated duration to the real time it takes at this speed.
    pub fn real_duration(&self, emu_ms: u64) -> std::time::Duration {
        std::time::Duration::from_secs_f64(emu_ms as f64 / 1000.0 / self.speed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_in_beijing_time() {
        let wall = DateTime::parse_from_rfc3339("2024-09-13T02:31:56Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(stamp(wall), "2024-09-13 10:31:56");
    }

    #[test]
    fn a_fast_clock_runs_ahead_of_real_time() {
        let clock = Clock::new(5_000, 1000.0);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(clock.now().emu_ms >= 10_000);
        assert_eq!(
            clock.real_duration(2_000),
            std::time::Duration::from_millis(2)
        );
    }
}
