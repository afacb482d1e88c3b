//! From button edges to holds, the way the firmware acts on them: a pure state machine.
//!
//! Input: press/release edges with timestamps (nanoseconds on the source's clock), and
//! `tick(now)` calls while the button is down. Output: threshold crossings while held (so an
//! advanced reset that reboots the box is on record before any release arrives), and one
//! classified hold per press. Nothing here reads a clock or a device: tests drive it with
//! edge tables.
//!
//! Rules:
//! - A release is final only after `debounce` has passed without a new press; a press within
//!   that window continues the same hold (contact bounce).
//! - A hold shorter than `debounce` in total is a bounce: dropped.
//! - A second press while down, or a release while up, changes nothing (the input core never
//!   sends them; after a SYN_DROPPED they can appear and are reconciled with the key state).
//! - A press that never gets its release (device gone, watcher stopped, end of a replay) is
//!   reported as unfinished with the time it had been held so far.

use serde::Serialize;

const MS: u64 = 1_000_000;

/// What QTS does for a hold of a given length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    Short,
    BasicReset,
    AdvancedReset,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Short => "short",
            Class::BasicReset => "basic-reset",
            Class::AdvancedReset => "advanced-reset",
        }
    }

    pub fn parse(s: &str) -> Option<Class> {
        [Class::Short, Class::BasicReset, Class::AdvancedReset]
            .into_iter()
            .find(|c| c.name() == s)
    }

    /// What the firmware does when a hold of this class ends (QNAP's documentation; see
    /// docs/watcher.md).
    pub fn firmware_action(self) -> &'static str {
        match self {
            Class::Short => "nothing (shorter than the basic reset hold)",
            Class::BasicReset => {
                "basic system reset: admin password and network/system access settings back to defaults"
            }
            Class::AdvancedReset => {
                "advanced system reset: all settings to factory defaults, users, groups and shares deleted (data kept)"
            }
        }
    }
}

impl super::term::Word for Class {
    const ALL: &'static [Class] = &[Class::Short, Class::BasicReset, Class::AdvancedReset];
    fn name(self) -> &'static str {
        Class::name(self)
    }
}

/// Hold lengths that separate the classes, and the bounce filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub debounce_ms: u64,
    pub basic_ms: u64,
    pub advanced_ms: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            debounce_ms: 30,
            basic_ms: 3_000,
            advanced_ms: 10_000,
        }
    }
}

impl Thresholds {
    pub fn class_of(&self, held_ms: u64) -> Class {
        if held_ms >= self.advanced_ms {
            Class::AdvancedReset
        } else if held_ms >= self.basic_ms {
            Class::BasicReset
        } else {
            Class::Short
        }
    }
}

/// Why a hold never got its release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unfinished {
    DeviceGone,
    WatcherStopped,
    EndOfReplay,
}

impl Unfinished {
    pub fn name(self) -> &'static str {
        match self {
            Unfinished::DeviceGone => "device-gone",
            Unfinished::WatcherStopped => "watcher-stopped",
            Unfinished::EndOfReplay => "end-of-replay",
        }
    }
}

/// What the classifier reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The button has now been held for `held_ms`, which reaches `class`.
    Threshold {
        class: Class,
        held_ms: u64,
        /// Source timestamp of the press (ns).
        pressed_at: u64,
    },
    /// A complete hold (released). `start_known` is false when the button was already down
    /// when watching started (or after a resynchronisation): `held_ms` is then a minimum.
    Hold {
        class: Class,
        held_ms: u64,
        start_known: bool,
        /// Source timestamp of the press (ns).
        pressed_at: u64,
    },
    /// A press without a release.
    Unfinished {
        class: Class,
        held_ms: u64,
        start_known: bool,
        pressed_at: u64,
        why: Unfinished,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Up,
    Down {
        since: u64,
        start_known: bool,
        announced: Class,
    },
    /// Released at `at`, waiting out the debounce window.
    Releasing {
        since: u64,
        start_known: bool,
        announced: Class,
        at: u64,
    },
}

#[derive(Debug, Clone)]
pub struct Classifier {
    th: Thresholds,
    state: State,
}

fn ms(from: u64, to: u64) -> u64 {
    to.saturating_sub(from) / MS
}

impl Classifier {
    pub fn new(th: Thresholds) -> Self {
        Classifier {
            th,
            state: State::Up,
        }
    }

    pub fn thresholds(&self) -> Thresholds {
        self.th
    }

    /// Whether the button is (still) considered down.
    pub fn is_down(&self) -> bool {
        !matches!(self.state, State::Up)
    }

    /// The button was already down when watching began (its start is unknown).
    pub fn already_down(&mut self, now: u64) {
        if let State::Up = self.state {
            self.state = State::Down {
                since: now,
                start_known: false,
                announced: Class::Short,
            };
        }
    }

    /// Feed one edge at time `t` (ns). Call `tick(t)` first so thresholds crossed before
    /// the edge are reported in order (`edge` does it itself).
    pub fn edge(&mut self, pressed: bool, t: u64, out: &mut Vec<Output>) {
        self.tick(t, out);
        self.state = match (self.state, pressed) {
            (State::Up, true) => State::Down {
                since: t,
                start_known: true,
                announced: Class::Short,
            },
            (State::Up, false) => State::Up,
            (s @ State::Down { .. }, true) => s,
            (
                State::Down {
                    since,
                    start_known,
                    announced,
                },
                false,
            ) => State::Releasing {
                since,
                start_known,
                announced,
                at: t,
            },
            // A press inside the debounce window: the same hold goes on.
            (
                State::Releasing {
                    since,
                    start_known,
                    announced,
                    ..
                },
                true,
            ) => State::Down {
                since,
                start_known,
                announced,
            },
            (s @ State::Releasing { .. }, false) => s,
        };
    }

    /// Time has passed (no edge): report thresholds crossed by `now` and finish a release
    /// whose debounce window has ended.
    pub fn tick(&mut self, now: u64, out: &mut Vec<Output>) {
        match self.state {
            State::Up => {}
            State::Down {
                since,
                start_known,
                announced,
            } => {
                let a = self.announce(since, announced, now, out);
                self.state = State::Down {
                    since,
                    start_known,
                    announced: a,
                };
            }
            State::Releasing {
                since,
                start_known,
                announced,
                at,
            } => {
                // Thresholds reached before the release still count.
                let a = self.announce(since, announced, at, out);
                if ms(at, now) >= self.th.debounce_ms {
                    self.state = State::Up;
                    let held = ms(since, at);
                    if held >= self.th.debounce_ms || !start_known {
                        out.push(Output::Hold {
                            class: self.th.class_of(held),
                            held_ms: held,
                            start_known,
                            pressed_at: since,
                        });
                    }
                } else {
                    self.state = State::Releasing {
                        since,
                        start_known,
                        announced: a,
                        at,
                    };
                }
            }
        }
    }

    fn announce(&self, since: u64, announced: Class, now: u64, out: &mut Vec<Output>) -> Class {
        let mut a = announced;
        for (class, at_ms) in [
            (Class::BasicReset, self.th.basic_ms),
            (Class::AdvancedReset, self.th.advanced_ms),
        ] {
            if a < class && ms(since, now) >= at_ms {
                out.push(Output::Threshold {
                    class,
                    held_ms: at_ms,
                    pressed_at: since,
                });
                a = class;
            }
        }
        a
    }

    /// When the next `tick` has something to do (ns on the source clock), if ever.
    pub fn next_deadline(&self) -> Option<u64> {
        match self.state {
            State::Up => None,
            State::Down {
                since, announced, ..
            } => match announced {
                Class::Short => Some(since + self.th.basic_ms * MS),
                Class::BasicReset => Some(since + self.th.advanced_ms * MS),
                Class::AdvancedReset => None,
            },
            State::Releasing { at, .. } => Some(at + self.th.debounce_ms * MS),
        }
    }

    /// The source ended at `now`: a pending release is completed, a press still down is
    /// reported as unfinished.
    pub fn finish(&mut self, now: u64, why: Unfinished, out: &mut Vec<Output>) {
        if let State::Releasing { at, .. } = self.state {
            self.tick(at.max(now).max(at + self.th.debounce_ms * MS), out);
        }
        self.tick(now, out);
        if let State::Down {
            since, start_known, ..
        } = self.state
        {
            let held = ms(since, now);
            out.push(Output::Unfinished {
                class: self.th.class_of(held),
                held_ms: held,
                start_known,
                pressed_at: since,
                why,
            });
        }
        self.state = State::Up;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy)]
    enum Step {
        Press(u64),
        Release(u64),
        Tick(u64),
        Finish(u64),
    }
    use Step::*;

    fn run(steps: &[Step]) -> Vec<Output> {
        let mut c = Classifier::new(Thresholds::default());
        let mut out = Vec::new();
        for s in steps {
            match *s {
                Press(t) => c.edge(true, t * MS, &mut out),
                Release(t) => c.edge(false, t * MS, &mut out),
                Tick(t) => c.tick(t * MS, &mut out),
                Finish(t) => c.finish(t * MS, Unfinished::EndOfReplay, &mut out),
            }
        }
        out
    }

    fn holds(out: &[Output]) -> Vec<(Class, u64)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Hold { class, held_ms, .. } => Some((*class, *held_ms)),
                _ => None,
            })
            .collect()
    }

    fn thresholds(out: &[Output]) -> Vec<Class> {
        out.iter()
            .filter_map(|o| match o {
                Output::Threshold { class, .. } => Some(*class),
                _ => None,
            })
            .collect()
    }

    /// (name, steps, expected holds, expected threshold announcements)
    type Case = (&'static str, Vec<Step>, Vec<(Class, u64)>, Vec<Class>);

    #[test]
    fn table_of_edge_sequences() {
        let cases: &[Case] = &[
            (
                "short press",
                vec![Press(1000), Release(1500), Tick(2000)],
                vec![(Class::Short, 500)],
                vec![],
            ),
            (
                "basic reset: exactly 3000 ms",
                vec![Press(0), Release(3000), Tick(4000)],
                vec![(Class::BasicReset, 3000)],
                vec![Class::BasicReset],
            ),
            (
                "one ms short of basic",
                vec![Press(0), Release(2999), Tick(4000)],
                vec![(Class::Short, 2999)],
                vec![],
            ),
            (
                "advanced reset: exactly 10000 ms",
                vec![Press(0), Release(10_000), Tick(11_000)],
                vec![(Class::AdvancedReset, 10_000)],
                vec![Class::BasicReset, Class::AdvancedReset],
            ),
            (
                "one ms short of advanced",
                vec![Press(0), Release(9_999), Tick(11_000)],
                vec![(Class::BasicReset, 9_999)],
                vec![Class::BasicReset],
            ),
            (
                "bounce shorter than debounce is dropped",
                vec![Press(0), Release(10), Tick(100)],
                vec![],
                vec![],
            ),
            (
                "bounces at press and release belong to one hold",
                vec![
                    Press(0),
                    Release(5),
                    Press(12),
                    Release(3500),
                    Press(3510),
                    Release(3520),
                    Tick(4000),
                ],
                vec![(Class::BasicReset, 3520)],
                vec![Class::BasicReset],
            ),
            (
                "double press (missed release) keeps the first start",
                vec![Press(0), Press(1000), Release(4000), Tick(5000)],
                vec![(Class::BasicReset, 4000)],
                vec![Class::BasicReset],
            ),
            (
                "release without press is ignored",
                vec![Release(100), Tick(1000)],
                vec![],
                vec![],
            ),
            (
                "two presses in a row, separated by more than debounce",
                vec![
                    Press(0),
                    Release(200),
                    Press(300),
                    Release(3400),
                    Tick(5000),
                ],
                vec![(Class::Short, 200), (Class::BasicReset, 3100)],
                vec![Class::BasicReset],
            ),
            (
                "release completes on a later edge if no tick came",
                vec![
                    Press(0),
                    Release(200),
                    Press(1000),
                    Release(1100),
                    Tick(2000),
                ],
                vec![(Class::Short, 200), (Class::Short, 100)],
                vec![],
            ),
        ];
        for (name, steps, want_holds, want_thr) in cases {
            let out = run(steps);
            assert_eq!(&holds(&out), want_holds, "{name}: {out:?}");
            assert_eq!(&thresholds(&out), want_thr, "{name}: {out:?}");
        }
    }

    #[test]
    fn thresholds_are_announced_while_held_once_each() {
        let mut c = Classifier::new(Thresholds::default());
        let mut out = Vec::new();
        c.edge(true, 0, &mut out);
        assert_eq!(c.next_deadline(), Some(3000 * MS));
        c.tick(2999 * MS, &mut out);
        assert!(out.is_empty());
        c.tick(3000 * MS, &mut out);
        assert_eq!(
            out,
            vec![Output::Threshold {
                class: Class::BasicReset,
                held_ms: 3000,
                pressed_at: 0
            }]
        );
        c.tick(5000 * MS, &mut out);
        assert_eq!(out.len(), 1, "announced twice: {out:?}");
        assert_eq!(c.next_deadline(), Some(10_000 * MS));
        c.tick(12_000 * MS, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(
            c.next_deadline(),
            None,
            "no timer once every class is reached"
        );
        c.edge(false, 12_500 * MS, &mut out);
        assert_eq!(c.next_deadline(), Some(12_530 * MS), "debounce window");
        c.tick(12_530 * MS, &mut out);
        assert_eq!(holds(&out), vec![(Class::AdvancedReset, 12_500)]);
        assert_eq!(c.next_deadline(), None, "no timer while up");
    }

    #[test]
    fn missing_release_is_unfinished_not_lost() {
        let mut c = Classifier::new(Thresholds::default());
        let mut out = Vec::new();
        c.edge(true, 1000 * MS, &mut out);
        c.finish(12_000 * MS, Unfinished::DeviceGone, &mut out);
        assert_eq!(
            thresholds(&out),
            vec![Class::BasicReset, Class::AdvancedReset]
        );
        assert_eq!(
            out.last(),
            Some(&Output::Unfinished {
                class: Class::AdvancedReset,
                held_ms: 11_000,
                start_known: true,
                pressed_at: 1000 * MS,
                why: Unfinished::DeviceGone
            })
        );
        assert!(!c.is_down());
    }

    #[test]
    fn finish_completes_a_pending_release() {
        let out = run(&[Press(0), Release(3200), Finish(3201)]);
        assert_eq!(holds(&out), vec![(Class::BasicReset, 3200)]);
        assert!(!out.iter().any(|o| matches!(o, Output::Unfinished { .. })));
    }

    #[test]
    fn already_down_at_start_has_unknown_start() {
        let mut c = Classifier::new(Thresholds::default());
        let mut out = Vec::new();
        c.already_down(0);
        c.edge(false, 5 * MS, &mut out);
        c.tick(100 * MS, &mut out);
        assert_eq!(
            out,
            vec![Output::Hold {
                class: Class::Short,
                held_ms: 5,
                start_known: false,
                pressed_at: 0
            }],
            "a release of a button already down is kept (its length is a minimum)"
        );
    }

    #[test]
    fn thresholds_are_configurable() {
        let th = Thresholds {
            debounce_ms: 50,
            basic_ms: 5000,
            advanced_ms: 15_000,
        };
        assert_eq!(th.class_of(4999), Class::Short);
        assert_eq!(th.class_of(5000), Class::BasicReset);
        assert_eq!(th.class_of(15_000), Class::AdvancedReset);
        let mut c = Classifier::new(th);
        let mut out = Vec::new();
        c.edge(true, 0, &mut out);
        c.edge(false, 40 * MS, &mut out);
        c.tick(200 * MS, &mut out);
        assert!(out.is_empty(), "40 ms is a bounce with a 50 ms filter");
    }

    #[test]
    fn names_match_the_serialized_form_and_parse_back() {
        for c in [Class::Short, Class::BasicReset, Class::AdvancedReset] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.name(), "{c:?}");
            assert_eq!(Class::parse(c.name()), Some(c));
        }
        assert_eq!(Class::parse("reset"), None);
        assert_eq!(Class::parse(""), None);
        for u in [
            Unfinished::DeviceGone,
            Unfinished::WatcherStopped,
            Unfinished::EndOfReplay,
        ] {
            assert_eq!(serde_json::to_value(u).unwrap(), u.name(), "{u:?}");
        }
    }

    #[test]
    fn firmware_actions_say_what_each_class_does() {
        assert!(Class::Short.firmware_action().starts_with("nothing"));
        assert!(
            Class::BasicReset
                .firmware_action()
                .contains("admin password")
        );
        assert!(
            Class::AdvancedReset
                .firmware_action()
                .contains("factory defaults")
        );
    }

    #[test]
    fn down_while_held_and_thresholds_as_configured() {
        let th = Thresholds {
            debounce_ms: 50,
            basic_ms: 5000,
            advanced_ms: 15_000,
        };
        let mut c = Classifier::new(th);
        assert_eq!(c.thresholds(), th);
        let mut out = Vec::new();
        assert!(!c.is_down());
        c.edge(true, 0, &mut out);
        assert!(c.is_down(), "held");
        c.edge(false, 100 * MS, &mut out);
        assert!(c.is_down(), "still down inside the debounce window");
        c.tick(150 * MS, &mut out);
        assert!(!c.is_down());
    }

    #[test]
    fn release_at_time_zero_is_completed_by_finish() {
        // A button already down when watching began, released at the source's time 0, and
        // the source ends there: the release still completes (a minimum-length hold).
        let mut c = Classifier::new(Thresholds::default());
        let mut out = Vec::new();
        c.already_down(0);
        c.edge(false, 0, &mut out);
        c.finish(0, Unfinished::EndOfReplay, &mut out);
        assert_eq!(
            out,
            vec![Output::Hold {
                class: Class::Short,
                held_ms: 0,
                start_known: false,
                pressed_at: 0
            }]
        );
    }
}
