//! Stop signals (Ctrl-C, SIGTERM) and what a repeat means. The first asks
//! for a clean stop (summary, checkpoint, cookie removed). A repeat within
//! [`GRACE`] of the first is the same request, not a second one: `timeout`
//! and service managers signal the process and then its group, so one stop
//! often arrives twice. A repeat after the grace period means "stop now",
//! and the caller exits at once with [`FORCED_EXIT`].

use std::time::{Duration, Instant};

/// How long after the first stop signal a repeat counts as the same one.
pub const GRACE: Duration = Duration::from_secs(1);

/// The exit code of a stop forced by a repeated signal (128 + SIGINT).
pub const FORCED_EXIT: i32 = 130;

/// What one received stop signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopRequest {
    /// The first: stop cleanly.
    Stop,
    /// A repeat within [`GRACE`] of the first: already being done.
    Echo,
    /// A repeat after the grace period: exit at once.
    Force,
}

/// The stop signals received so far by one process.
#[derive(Debug, Default)]
pub struct StopSignals {
    first: Option<Instant>,
}

impl StopSignals {
    /// Classifies a signal received at `now`.
    pub fn receive(&mut self, now: Instant) -> StopRequest {
        match self.first {
            None => {
                self.first = Some(now);
                StopRequest::Stop
            }
            Some(first) if now.saturating_duration_since(first) < GRACE => StopRequest::Echo,
            Some(_) => StopRequest::Force,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_is_an_echo_within_the_grace_period_and_forces_after_it() {
        let t0 = Instant::now();
        let mut s = StopSignals::default();
        assert_eq!(s.receive(t0), StopRequest::Stop);
        assert_eq!(s.receive(t0 + Duration::from_millis(5)), StopRequest::Echo);
        assert_eq!(
            s.receive(t0 + GRACE - Duration::from_millis(1)),
            StopRequest::Echo
        );
        assert_eq!(s.receive(t0 + GRACE), StopRequest::Force);
        assert_eq!(s.receive(t0 + GRACE * 3), StopRequest::Force);
    }
}
