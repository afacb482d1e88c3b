//! Property tests (proptest) for every parser: arbitrary bytes never panic, and edits are
//! lossless — everything but the edited field stays byte-identical. CI runs the default
//! case count; a long campaign: `PROPTEST_CASES=200000 cargo test --release --test
//! prop_parsers` (see docs/reliability.md for the figures).

use proptest::prelude::*;

use qrescue::formats::colon::{self, Lookup};
use qrescue::formats::{group, passwd, shadow, smbconf, smbpasswd};
use qrescue::hash;
use qrescue::watch::classify::{Classifier, Output, Thresholds, Unfinished};
use qrescue::watch::evdev::KeyFilter;
use qrescue::watch::journal::{self, Contents, Record};
use qrescue::watch::records::{self, InputEvent, InputLayout};

/// Text that looks like a colon file: lines of fields from a small alphabet with the
/// characters that matter (`:`, `\r`, `#`, `+`, spaces, `$`, digits), or arbitrary bytes.
fn colon_file() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(
            proptest::collection::vec(
                prop_oneof![
                    Just(b':'),
                    Just(b'\r'),
                    Just(b'#'),
                    Just(b'+'),
                    Just(b' '),
                    Just(b'$'),
                    Just(b'!'),
                    (b'0'..=b'9'),
                    (b'a'..=b'f'),
                    (b'A'..=b'F'),
                    Just(b'X'),
                    Just(b'['),
                    Just(b']'),
                ],
                0..60
            ),
            0..12
        )
        .prop_map(|lines| lines.join(&b'\n')),
        proptest::collection::vec(any::<u8>(), 0..400),
    ]
}

/// A shadow entry as real files hold them: a user name, a hash of any scheme (or a lock
/// marker), the ageing fields empty or numbers, the reserved field, sometimes a CRLF end.
fn shadow_entry() -> impl Strategy<Value = String> {
    let num = prop_oneof![
        Just(String::new()),
        (0u64..100_000).prop_map(|n| n.to_string())
    ];
    (
        "[a-z_][a-z0-9_.-]{0,12}",
        prop_oneof![
            "\\$6\\$[a-zA-Z0-9./]{1,16}\\$[a-zA-Z0-9./]{86}",
            "\\$1\\$[a-zA-Z0-9./]{0,8}\\$[a-zA-Z0-9./]{22}",
            "!{0,2}\\$5\\$[a-zA-Z0-9./]{8}\\$[a-zA-Z0-9./]{43}",
            "[a-zA-Z0-9./]{13}",
            Just("*".to_string()),
            Just("!".to_string()),
            Just(String::new()),
        ],
        proptest::collection::vec(num, 6),
        prop_oneof![Just(String::new()), "[0-9a-z]{1,4}".prop_map(|s| s)],
    )
        .prop_map(|(name, hash, n, reserved)| format!("{name}:{hash}:{}:{reserved}", n.join(":")))
}

/// An smbpasswd entry as Samba writes it: uid, LM and NT hashes (hex, `X`s or
/// `NO PASSWORD`), an 11-character flag bracket, `LCT-` and 8 hex digits, final `:`.
fn smbpasswd_entry() -> impl Strategy<Value = String> {
    let hash = prop_oneof![
        "[0-9A-F]{32}",
        Just("X".repeat(32)),
        Just(format!("NO PASSWORD{}", "X".repeat(21))),
    ];
    (
        "[a-z_][a-z0-9_.-]{0,12}\\$?",
        0u32..100_000,
        hash.clone(),
        hash,
        "[NDUWXHLI]{1,5}",
        "[0-9A-F]{8}",
    )
        .prop_map(|(name, uid, lm, nt, flags, lct)| {
            format!("{name}:{uid}:{lm}:{nt}:[{flags:<11}]:LCT-{lct}:")
        })
}

/// A whole file: mostly well-formed `entry` lines, with comments, blank and broken lines
/// between them (the shapes the edit must carry through untouched).
fn file_of(entry: impl Strategy<Value = String>) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            12 => entry.prop_map(String::into_bytes),
            1 => "# [ -~]{0,30}".prop_map(String::into_bytes),
            1 => Just(Vec::new()),
            1 => "[a-z:0-9 ]{0,30}".prop_map(String::into_bytes),
        ],
        1..12,
    )
    .prop_map(|lines| {
        let mut v = lines.join(&b'\n');
        v.push(b'\n');
        v
    })
}

/// Run `check` on generated (file, parameters) cases; returns (lines, lines that parsed
/// as entries), so a test can prove its generator feeds the edit real entries.
fn run_counting<P: std::fmt::Debug>(
    cases: impl Strategy<Value = (Vec<u8>, P)>,
    parses: impl Fn(&colon::Line<'_>) -> bool,
    check: impl Fn(&[u8], &P) -> Result<(), TestCaseError>,
) -> (usize, usize) {
    let counts = std::cell::Cell::new((0usize, 0usize));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::default());
    runner
        .run(&cases, |(bytes, p)| {
            let (mut lines, mut ok) = counts.get();
            for l in colon::lines(&bytes) {
                lines += 1;
                ok += usize::from(parses(&l));
            }
            counts.set((lines, ok));
            check(&bytes, &p)
        })
        .unwrap();
    counts.get()
}

fn shadow_edit_is_lossless(bytes: &[u8], hash: &str, today: u64) -> Result<(), TestCaseError> {
    for l in colon::lines(bytes) {
        let Ok(before) = shadow::parse(&l) else {
            continue;
        };
        if before.name.contains(['\r']) {
            continue;
        }
        let new_line = shadow::with_hash(&l, hash.as_bytes(), today);
        let out = colon::replace_line(bytes, &l.span, &new_line);
        // Every other byte of the file is untouched.
        prop_assert_eq!(&out[..l.span.start], &bytes[..l.span.start]);
        prop_assert_eq!(&out[l.span.start + new_line.len()..], &bytes[l.span.end..]);
        let edited = colon::lines(&out).nth(l.number - 1).unwrap();
        let after = shadow::parse(&edited).unwrap();
        prop_assert_eq!(&after.hash, hash);
        prop_assert_eq!(after.last_change, Some(today));
        prop_assert_eq!(&after.name, &before.name);
        prop_assert_eq!(after.expire, before.expire);
        let (bf, af) = (l.fields(), edited.fields());
        prop_assert_eq!(
            &bf[3..],
            &af[3..],
            "min/max/warn/inactive/expire/reserved kept"
        );
    }
    Ok(())
}

fn smbpasswd_edit_is_lossless(bytes: &[u8], nt: &str, now: u64) -> Result<(), TestCaseError> {
    for l in colon::lines(bytes) {
        let Ok(before) = smbpasswd::parse(&l) else {
            continue;
        };
        let new_line = smbpasswd::with_nt_hash(&l, nt, now);
        let out = colon::replace_line(bytes, &l.span, &new_line);
        prop_assert_eq!(&out[..l.span.start], &bytes[..l.span.start]);
        prop_assert_eq!(&out[l.span.start + new_line.len()..], &bytes[l.span.end..]);
        let edited = colon::lines(&out).nth(l.number - 1).unwrap();
        let after = smbpasswd::parse(&edited).unwrap();
        prop_assert_eq!(&after.name, &before.name);
        prop_assert_eq!(after.uid, before.uid);
        prop_assert_eq!(after.nt_hash.as_deref(), Some(nt));
        prop_assert!(!after.no_password());
        prop_assert_eq!(after.last_change, Some(now & 0xffff_ffff));
        let keep = |f: &str| f.chars().filter(|&c| c != 'N').collect::<String>();
        // Every flag but N kept; a bracket left empty becomes [U] (a normal user), as
        // smbpasswd itself writes it.
        let mut expected = keep(&before.flags).trim().to_string();
        if expected.is_empty() {
            expected.push('U');
        }
        let got = keep(&after.flags);
        prop_assert_eq!(got.trim(), expected.as_str(), "other flags kept");
        let (bf, af) = (l.fields(), edited.fields());
        prop_assert_eq!(&bf[..2], &af[..2], "name and uid bytes kept");
        prop_assert_eq!(&bf[6..], &af[6..], "trailing field kept");
    }
    Ok(())
}

/// The share of generated lines that must be real entries, so the edit properties check
/// edits and not only the "not an entry, skipped" path.
const MIN_ENTRY_SHARE: f64 = 0.70;

fn assert_share(what: &str, (lines, ok): (usize, usize)) {
    let share = ok as f64 / lines.max(1) as f64;
    eprintln!(
        "{what}: {ok} of {lines} generated lines parse ({:.0} %)",
        share * 100.0
    );
    assert!(
        share >= MIN_ENTRY_SHARE,
        "{what}: only {ok} of {lines} generated lines parse: the edit property would test little"
    );
}

#[test]
fn shadow_edit_on_realistic_files_is_lossless() {
    let counts = run_counting(
        (
            file_of(shadow_entry()),
            (
                "\\$6\\$[a-zA-Z0-9./]{1,16}\\$[a-zA-Z0-9./]{86}",
                0u64..100_000,
            ),
        ),
        |l| shadow::parse(l).is_ok(),
        |bytes, (hash, today)| shadow_edit_is_lossless(bytes, hash, *today),
    );
    assert_share("shadow", counts);
}

#[test]
fn smbpasswd_edit_on_realistic_files_is_lossless() {
    let counts = run_counting(
        (
            file_of(smbpasswd_entry()),
            ("[0-9A-F]{32}", 0u64..4_000_000_000),
        ),
        |l| smbpasswd::parse(l).is_ok(),
        |bytes, (nt, now)| smbpasswd_edit_is_lossless(bytes, nt, *now),
    );
    assert_share("smbpasswd", counts);
}

proptest! {
    #[test]
    fn colon_lines_cover_the_file(bytes in colon_file()) {
        let joined: Vec<u8> = colon::lines(&bytes)
            .map(|l| l.text.to_vec())
            .collect::<Vec<_>>()
            .join(&b'\n');
        let expect = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        prop_assert_eq!(joined.as_slice(), expect);
    }

    #[test]
    fn every_parser_survives_any_line(bytes in colon_file()) {
        for l in colon::lines(&bytes) {
            let _ = passwd::parse(&l);
            let _ = shadow::parse(&l);
            let _ = group::parse(&l);
            let _ = smbpasswd::parse(&l);
            let _ = l.is_entry();
        }
        let _ = group::all(&bytes);
        let _ = passwd::names_with_gid(&bytes, 0);
    }

    #[test]
    fn lookup_finds_only_matching_names(bytes in colon_file(), name in "[a-fA-F0-9]{1,4}") {
        match colon::find(&bytes, &name) {
            Lookup::Found(l) => {
                let n = String::from_utf8_lossy(l.name()).into_owned();
                prop_assert!(n.eq_ignore_ascii_case(&name), "{} for {}", n, name);
            }
            Lookup::Missing | Lookup::Ambiguous(_) => {}
        }
    }

    #[test]
    fn shadow_edit_changes_only_hash_and_last_change(
        bytes in colon_file(), hash in "\\$6\\$[a-zA-Z0-9./]{1,16}\\$[a-zA-Z0-9./]{86}", today in 0u64..100_000
    ) {
        for l in colon::lines(&bytes) {
            let Ok(before) = shadow::parse(&l) else { continue };
            if before.name.contains(['\r']) { continue; }
            let new_line = shadow::with_hash(&l, hash.as_bytes(), today);
            let out = colon::replace_line(&bytes, &l.span, &new_line);
            // Every other byte of the file is untouched.
            prop_assert_eq!(&out[..l.span.start], &bytes[..l.span.start]);
            prop_assert_eq!(&out[l.span.start + new_line.len()..], &bytes[l.span.end..]);
            let edited = colon::lines(&out).nth(l.number - 1).unwrap();
            let after = shadow::parse(&edited).unwrap();
            prop_assert_eq!(&after.hash, &hash);
            prop_assert_eq!(after.last_change, Some(today));
            prop_assert_eq!(&after.name, &before.name);
            prop_assert_eq!(after.expire, before.expire);
            let (bf, af) = (l.fields(), edited.fields());
            prop_assert_eq!(&bf[3..], &af[3..], "min/max/warn/inactive/expire/reserved kept");
        }
    }

    #[test]
    fn smbpasswd_edit_keeps_name_uid_and_sets_the_hash(
        bytes in colon_file(), nt in "[0-9A-F]{32}", now in 0u64..4_000_000_000
    ) {
        for l in colon::lines(&bytes) {
            let Ok(before) = smbpasswd::parse(&l) else { continue };
            let new_line = smbpasswd::with_nt_hash(&l, &nt, now);
            let edited = colon::lines(&new_line).next().unwrap();
            let after = smbpasswd::parse(&edited).unwrap();
            prop_assert_eq!(&after.name, &before.name);
            prop_assert_eq!(after.uid, before.uid);
            prop_assert_eq!(after.nt_hash.as_deref(), Some(nt.as_str()));
            prop_assert!(!after.no_password());
        }
    }

    #[test]
    fn smb_conf_reader_survives_anything(text in "[\\[\\]a-z =;#/\\n\\t:]{0,300}") {
        let s = smbconf::parse(&text);
        let _ = s.backend("/etc/config/smbpasswd");
    }

    #[test]
    fn hash_inspect_and_verify_survive_any_field(field in "(\\$[0-9a-z]{0,3}\\$)?[a-zA-Z0-9./$=,_!*]{0,80}", pw in "[ -~]{0,20}") {
        let _ = hash::inspect(&field);
        let _ = hash::verify(pw.as_bytes(), &field);
    }

    #[test]
    fn input_event_round_trips_in_both_layouts(bytes in proptest::collection::vec(any::<u8>(), 24)) {
        for layout in [InputLayout::Long64, InputLayout::Long32] {
            let rec = &bytes[..layout.size()];
            let e = records::decode_input(rec, layout).unwrap();
            let again = e.encode(layout);
            prop_assert_eq!(again.as_slice(), rec);
        }
        let _ = records::decode_gpio_v1(&bytes[..16], 16);
    }

    #[test]
    fn gpio_v2_decoder_survives_anything(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let _ = records::decode_gpio_v2(&bytes);
        let _ = records::decode_gpio_v1(&bytes, 12);
    }

    #[test]
    fn key_filter_does_not_depend_on_read_sizes(
        events in proptest::collection::vec((0u64..1000, 0u16..3, prop_oneof![Just(0x198u16), Just(116u16), Just(3u16), Just(0u16)], -1i32..3), 0..40),
        cuts in proptest::collection::vec(1usize..50, 1..10),
    ) {
        let layout = InputLayout::native();
        let bytes: Vec<u8> = events
            .iter()
            .flat_map(|&(ms, kind, code, value)| {
                InputEvent { sec: ms / 1000, usec: ms % 1000 * 1000, kind, code, value }.encode(layout)
            })
            .collect();
        let mut whole = Vec::new();
        KeyFilter::new(0x198, layout).feed(&bytes, &mut whole, || Some(false));
        let mut pieces = Vec::new();
        let mut f = KeyFilter::new(0x198, layout);
        let mut at = 0;
        for c in cuts.iter().cycle() {
            if at >= bytes.len() { break; }
            let end = (at + c).min(bytes.len());
            f.feed(&bytes[at..end], &mut pieces, || Some(false));
            at = end;
        }
        prop_assert_eq!(whole, pieces);
        prop_assert_eq!(f.partial(), 0);
    }

    #[test]
    fn journal_lines_round_trip_and_garbage_is_counted(
        held in proptest::collection::vec(0u64..100_000, 0..10),
        garbage in "[^\\n]{1,40}",
    ) {
        let records: Vec<Record> = held
            .iter()
            .enumerate()
            .map(|(i, &h)| Record {
                time: journal::rfc3339_ms(i as u64 * 1000),
                unix_ms: i as u64 * 1000,
                event: journal::Event::Hold.into(),
                class: qrescue::watch::classify::Class::Short.into(),
                held_ms: h,
                start_known: i % 2 == 0,
                firmware: "nothing".into(),
                reason: None,
                source: qrescue::watch::source::SourceKind::Replay.into(),
                device: "/dev/input/event0".into(),
                device_name: Some("gpio-keys".into()),
                code: 0x198,
            })
            .collect();
        let mut text = Vec::new();
        for r in &records {
            text.extend(serde_json::to_vec(r).unwrap());
            text.push(b'\n');
        }
        let mut c = Contents::default();
        journal::parse_into(&text, &mut c);
        prop_assert_eq!(&c.records, &records);
        prop_assert_eq!(c.skipped_lines, 0);
        text.extend_from_slice(garbage.as_bytes());
        let mut c = Contents::default();
        journal::parse_into(&text, &mut c);
        prop_assert_eq!(c.records.len(), records.len());
        prop_assert!(c.skipped_lines <= 1);
    }

    #[test]
    fn classifier_never_invents_or_loses_presses(
        steps in proptest::collection::vec((1u64..15_000, any::<bool>()), 0..30)
    ) {
        let th = Thresholds::default();
        let mut c = Classifier::new(th);
        let mut out = Vec::new();
        let mut t = 0;
        let mut presses = 0;
        let mut down = false;
        for (dt, pressed) in steps {
            t += dt * 1_000_000;
            if pressed && !down { presses += 1; }
            down = pressed;
            c.edge(pressed, t, &mut out);
        }
        c.finish(t + 20_000_000_000, Unfinished::EndOfReplay, &mut out);
        let mut ended = 0;
        for o in &out {
            match o {
                Output::Hold { held_ms, class, start_known, .. } => {
                    ended += 1;
                    prop_assert!(*held_ms >= th.debounce_ms || !start_known);
                    prop_assert_eq!(*class, th.class_of(*held_ms));
                }
                Output::Unfinished { class, held_ms, .. } => {
                    ended += 1;
                    prop_assert_eq!(*class, th.class_of(*held_ms));
                }
                Output::Threshold { .. } => {}
            }
        }
        prop_assert!(ended <= presses, "{} holds from {} presses", ended, presses);
        prop_assert!(!c.is_down());
    }
}
