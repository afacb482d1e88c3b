//! The kernel's own header as the oracle of [`super`]: a C program compiled against
//! /usr/include/linux/gpio.h prints the size, offset and size of every field of the
//! structures mirrored there, the flag and attribute constants and the ioctl numbers, and
//! the bytes of v2/v1 requests built with the header's names; we compare each with ours.

use std::mem::offset_of;

use super::super::uapi_oracle::{Oracle, assert_same, hex, size_of_field};
use super::*;

/// A consumer label longer than the 31 bytes the kernel keeps.
const LONG: &str = "0123456789abcdefghijklmnopqrstuvwxyz";

/// The header's facts, computed from the header (C side of the oracle): argv empty.
/// With `v2 OFFSET ACTIVE_LOW DEBOUNCE_US CONSUMER` or `v1 OFFSET ACTIVE_LOW CONSUMER`,
/// the bytes of the request built with the header's names, as libgpiod fills it.
const ORACLE_C: &str = r#"
#include <linux/gpio.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE(t) printf("size %s %zu\n", #t, sizeof(struct t))
#define FIELD(t, f) printf("field %s.%s %zu %zu\n", #t, #f, offsetof(struct t, f), \
                           sizeof(((struct t *)0)->f))
#define CONST(c) printf("const %s %llu\n", #c, (unsigned long long)(c))
#define IOCTL(c) printf("ioctl %s %u\n", #c, (unsigned)(c))

static void hex(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
    printf("\n");
}

static void v2(char **a) {
    struct gpio_v2_line_request r;
    memset(&r, 0, sizeof r);
    r.offsets[0] = strtoul(a[0], NULL, 10);
    r.num_lines = 1;
    strncpy(r.consumer, a[3], sizeof r.consumer - 1);
    r.config.flags = GPIO_V2_LINE_FLAG_INPUT | GPIO_V2_LINE_FLAG_EDGE_RISING |
                     GPIO_V2_LINE_FLAG_EDGE_FALLING;
    if (atoi(a[1]))
        r.config.flags |= GPIO_V2_LINE_FLAG_ACTIVE_LOW;
    unsigned long debounce = strtoul(a[2], NULL, 10);
    if (debounce) {
        r.config.num_attrs = 1;
        r.config.attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_DEBOUNCE;
        r.config.attrs[0].attr.debounce_period_us = debounce;
        r.config.attrs[0].mask = 1ULL << 0; /* bit i: offsets[i] */
    }
    hex(&r, sizeof r);
}

static void v1(char **a) {
    struct gpioevent_request r;
    memset(&r, 0, sizeof r);
    r.lineoffset = strtoul(a[0], NULL, 10);
    r.handleflags = GPIOHANDLE_REQUEST_INPUT | (atoi(a[1]) ? GPIOHANDLE_REQUEST_ACTIVE_LOW : 0);
    r.eventflags = GPIOEVENT_REQUEST_BOTH_EDGES;
    strncpy(r.consumer_label, a[2], sizeof r.consumer_label - 1);
    hex(&r, sizeof r);
}

int main(int argc, char **argv) {
    if (argc == 6 && strcmp(argv[1], "v2") == 0) {
        v2(argv + 2);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "v1") == 0) {
        v1(argv + 2);
        return 0;
    }
    if (argc != 1)
        return 2;
    CONST(GPIO_MAX_NAME_SIZE);
    SIZE(gpio_v2_line_attribute);
    FIELD(gpio_v2_line_attribute, id);
    FIELD(gpio_v2_line_attribute, padding);
    FIELD(gpio_v2_line_attribute, flags);
    FIELD(gpio_v2_line_attribute, debounce_period_us);
    SIZE(gpio_v2_line_config_attribute);
    FIELD(gpio_v2_line_config_attribute, attr);
    FIELD(gpio_v2_line_config_attribute, mask);
    SIZE(gpio_v2_line_config);
    FIELD(gpio_v2_line_config, flags);
    FIELD(gpio_v2_line_config, num_attrs);
    FIELD(gpio_v2_line_config, padding);
    FIELD(gpio_v2_line_config, attrs);
    SIZE(gpio_v2_line_request);
    FIELD(gpio_v2_line_request, offsets);
    FIELD(gpio_v2_line_request, consumer);
    FIELD(gpio_v2_line_request, config);
    FIELD(gpio_v2_line_request, num_lines);
    FIELD(gpio_v2_line_request, event_buffer_size);
    FIELD(gpio_v2_line_request, padding);
    FIELD(gpio_v2_line_request, fd);
    SIZE(gpio_v2_line_info);
    FIELD(gpio_v2_line_info, name);
    FIELD(gpio_v2_line_info, consumer);
    FIELD(gpio_v2_line_info, offset);
    FIELD(gpio_v2_line_info, num_attrs);
    FIELD(gpio_v2_line_info, flags);
    FIELD(gpio_v2_line_info, attrs);
    FIELD(gpio_v2_line_info, padding);
    SIZE(gpio_v2_line_values);
    FIELD(gpio_v2_line_values, bits);
    FIELD(gpio_v2_line_values, mask);
    SIZE(gpioevent_request);
    FIELD(gpioevent_request, lineoffset);
    FIELD(gpioevent_request, handleflags);
    FIELD(gpioevent_request, eventflags);
    FIELD(gpioevent_request, consumer_label);
    FIELD(gpioevent_request, fd);
    SIZE(gpioline_info);
    FIELD(gpioline_info, line_offset);
    FIELD(gpioline_info, flags);
    FIELD(gpioline_info, name);
    FIELD(gpioline_info, consumer);
    SIZE(gpiohandle_data);
    FIELD(gpiohandle_data, values);
    CONST(GPIO_V2_LINE_FLAG_USED);
    CONST(GPIO_V2_LINE_FLAG_ACTIVE_LOW);
    CONST(GPIO_V2_LINE_FLAG_INPUT);
    CONST(GPIO_V2_LINE_FLAG_EDGE_RISING);
    CONST(GPIO_V2_LINE_FLAG_EDGE_FALLING);
    CONST(GPIO_V2_LINE_ATTR_ID_DEBOUNCE);
    CONST(GPIOLINE_FLAG_KERNEL);
    CONST(GPIOHANDLE_REQUEST_INPUT);
    CONST(GPIOHANDLE_REQUEST_ACTIVE_LOW);
    CONST(GPIOEVENT_REQUEST_BOTH_EDGES);
    IOCTL(GPIO_V2_GET_LINEINFO_IOCTL);
    IOCTL(GPIO_V2_GET_LINE_IOCTL);
    IOCTL(GPIO_V2_LINE_GET_VALUES_IOCTL);
    IOCTL(GPIO_GET_LINEINFO_IOCTL);
    IOCTL(GPIO_GET_LINEEVENT_IOCTL);
    IOCTL(GPIOHANDLE_GET_LINE_VALUES_IOCTL);
    return 0;
}
"#;

/// `field STRUCT.FIELD OFFSET SIZE` of one of our fields, under the header's names.
macro_rules! field {
    ($ty:ty, $c:literal, $f:ident) => {
        field!($ty, $c, $f, stringify!($f))
    };
    ($ty:ty, $c:literal, $f:ident, $cf:expr) => {
        format!(
            "field {}.{} {} {}",
            $c,
            $cf,
            offset_of!($ty, $f),
            size_of_field(|s: &$ty| &s.$f)
        )
    };
}

fn size(c: &str, n: usize) -> String {
    format!("size {c} {n}")
}

fn konst(c: &str, v: impl Into<u64>) -> String {
    format!("const {c} {}", v.into())
}

fn ioctl(c: &str, v: ioctl_num_type) -> String {
    // The header's numbers are unsigned int; musl's ioctl_num_type is a signed int.
    format!("ioctl {c} {}", v as u32)
}

/// What the oracle prints without arguments, from our definitions.
fn our_facts() -> Vec<String> {
    vec![
        konst("GPIO_MAX_NAME_SIZE", NAME as u64),
        size("gpio_v2_line_attribute", size_of::<LineAttribute>()),
        field!(LineAttribute, "gpio_v2_line_attribute", id),
        field!(LineAttribute, "gpio_v2_line_attribute", padding),
        field!(LineAttribute, "gpio_v2_line_attribute", value, "flags"),
        // The union's `__u32 debounce_period_us`: the low half of `value` (little-endian).
        format!(
            "field gpio_v2_line_attribute.debounce_period_us {} {}",
            offset_of!(LineAttribute, value),
            size_of::<u32>()
        ),
        size(
            "gpio_v2_line_config_attribute",
            size_of::<ConfigAttribute>(),
        ),
        field!(ConfigAttribute, "gpio_v2_line_config_attribute", attr),
        field!(ConfigAttribute, "gpio_v2_line_config_attribute", mask),
        size("gpio_v2_line_config", size_of::<LineConfig>()),
        field!(LineConfig, "gpio_v2_line_config", flags),
        field!(LineConfig, "gpio_v2_line_config", num_attrs),
        field!(LineConfig, "gpio_v2_line_config", padding),
        field!(LineConfig, "gpio_v2_line_config", attrs),
        size("gpio_v2_line_request", size_of::<LineRequest>()),
        field!(LineRequest, "gpio_v2_line_request", offsets),
        field!(LineRequest, "gpio_v2_line_request", consumer),
        field!(LineRequest, "gpio_v2_line_request", config),
        field!(LineRequest, "gpio_v2_line_request", num_lines),
        field!(LineRequest, "gpio_v2_line_request", event_buffer_size),
        field!(LineRequest, "gpio_v2_line_request", padding),
        field!(LineRequest, "gpio_v2_line_request", fd),
        size("gpio_v2_line_info", size_of::<LineInfoV2>()),
        field!(LineInfoV2, "gpio_v2_line_info", name),
        field!(LineInfoV2, "gpio_v2_line_info", consumer),
        field!(LineInfoV2, "gpio_v2_line_info", offset),
        field!(LineInfoV2, "gpio_v2_line_info", num_attrs),
        field!(LineInfoV2, "gpio_v2_line_info", flags),
        field!(LineInfoV2, "gpio_v2_line_info", attrs),
        field!(LineInfoV2, "gpio_v2_line_info", padding),
        size("gpio_v2_line_values", size_of::<LineValues>()),
        field!(LineValues, "gpio_v2_line_values", bits),
        field!(LineValues, "gpio_v2_line_values", mask),
        size("gpioevent_request", size_of::<EventRequestV1>()),
        field!(EventRequestV1, "gpioevent_request", lineoffset),
        field!(EventRequestV1, "gpioevent_request", handleflags),
        field!(EventRequestV1, "gpioevent_request", eventflags),
        field!(EventRequestV1, "gpioevent_request", consumer_label),
        field!(EventRequestV1, "gpioevent_request", fd),
        size("gpioline_info", size_of::<LineInfoV1>()),
        field!(LineInfoV1, "gpioline_info", line_offset),
        field!(LineInfoV1, "gpioline_info", flags),
        field!(LineInfoV1, "gpioline_info", name),
        field!(LineInfoV1, "gpioline_info", consumer),
        size("gpiohandle_data", size_of::<HandleData>()),
        field!(HandleData, "gpiohandle_data", values),
        konst("GPIO_V2_LINE_FLAG_USED", V2_FLAG_USED),
        konst("GPIO_V2_LINE_FLAG_ACTIVE_LOW", V2_FLAG_ACTIVE_LOW),
        konst("GPIO_V2_LINE_FLAG_INPUT", V2_FLAG_INPUT),
        konst("GPIO_V2_LINE_FLAG_EDGE_RISING", V2_FLAG_EDGE_RISING),
        konst("GPIO_V2_LINE_FLAG_EDGE_FALLING", V2_FLAG_EDGE_FALLING),
        konst("GPIO_V2_LINE_ATTR_ID_DEBOUNCE", V2_ATTR_DEBOUNCE),
        konst("GPIOLINE_FLAG_KERNEL", V1_LINE_KERNEL),
        konst("GPIOHANDLE_REQUEST_INPUT", V1_HANDLE_INPUT),
        konst("GPIOHANDLE_REQUEST_ACTIVE_LOW", V1_HANDLE_ACTIVE_LOW),
        konst("GPIOEVENT_REQUEST_BOTH_EDGES", V1_EVENT_BOTH),
        ioctl("GPIO_V2_GET_LINEINFO_IOCTL", GPIO_V2_GET_LINEINFO_IOCTL),
        ioctl("GPIO_V2_GET_LINE_IOCTL", GPIO_V2_GET_LINE_IOCTL),
        ioctl(
            "GPIO_V2_LINE_GET_VALUES_IOCTL",
            GPIO_V2_LINE_GET_VALUES_IOCTL,
        ),
        ioctl("GPIO_GET_LINEINFO_IOCTL", GPIO_GET_LINEINFO_IOCTL),
        ioctl("GPIO_GET_LINEEVENT_IOCTL", GPIO_GET_LINEEVENT_IOCTL),
        ioctl(
            "GPIOHANDLE_GET_LINE_VALUES_IOCTL",
            GPIOHANDLE_GET_LINE_VALUES_IOCTL,
        ),
    ]
}

/// The bytes the kernel reads from a [`LineRequest`], field by field at `offset_of!`
/// (every byte belongs to a field: the structures have no implicit padding).
fn line_request_bytes(r: &LineRequest) -> Vec<u8> {
    let mut b = vec![0xAA; size_of::<LineRequest>()];
    let mut put = |at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
    let words = |w: &[u32]| w.iter().flat_map(|x| x.to_ne_bytes()).collect::<Vec<_>>();
    put(offset_of!(LineRequest, offsets), &words(&r.offsets));
    put(offset_of!(LineRequest, consumer), &r.consumer);
    let c = offset_of!(LineRequest, config);
    put(
        c + offset_of!(LineConfig, flags),
        &r.config.flags.to_ne_bytes(),
    );
    put(
        c + offset_of!(LineConfig, num_attrs),
        &r.config.num_attrs.to_ne_bytes(),
    );
    put(
        c + offset_of!(LineConfig, padding),
        &words(&r.config.padding),
    );
    for (i, a) in r.config.attrs.iter().enumerate() {
        let at = c + offset_of!(LineConfig, attrs) + i * size_of::<ConfigAttribute>();
        let attr = at + offset_of!(ConfigAttribute, attr);
        put(
            attr + offset_of!(LineAttribute, id),
            &a.attr.id.to_ne_bytes(),
        );
        put(
            attr + offset_of!(LineAttribute, padding),
            &a.attr.padding.to_ne_bytes(),
        );
        put(
            attr + offset_of!(LineAttribute, value),
            &a.attr.value.to_ne_bytes(),
        );
        put(
            at + offset_of!(ConfigAttribute, mask),
            &a.mask.to_ne_bytes(),
        );
    }
    put(
        offset_of!(LineRequest, num_lines),
        &r.num_lines.to_ne_bytes(),
    );
    put(
        offset_of!(LineRequest, event_buffer_size),
        &r.event_buffer_size.to_ne_bytes(),
    );
    put(offset_of!(LineRequest, padding), &words(&r.padding));
    put(offset_of!(LineRequest, fd), &r.fd.to_ne_bytes());
    b
}

/// The bytes the kernel reads from an [`EventRequestV1`].
fn event_request_bytes(r: &EventRequestV1) -> Vec<u8> {
    let mut b = vec![0xAA; size_of::<EventRequestV1>()];
    let mut put = |at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
    put(
        offset_of!(EventRequestV1, lineoffset),
        &r.lineoffset.to_ne_bytes(),
    );
    put(
        offset_of!(EventRequestV1, handleflags),
        &r.handleflags.to_ne_bytes(),
    );
    put(
        offset_of!(EventRequestV1, eventflags),
        &r.eventflags.to_ne_bytes(),
    );
    put(
        offset_of!(EventRequestV1, consumer_label),
        &r.consumer_label,
    );
    put(offset_of!(EventRequestV1, fd), &r.fd.to_ne_bytes());
    b
}

#[test]
#[ignore = "needs cc and linux-libc-dev"]
fn layout_matches_the_kernel_header() {
    let oracle = Oracle::build(ORACLE_C);
    assert_same(&oracle.run(&[]), &our_facts());

    let long = LONG;
    let v2_cases: [(u32, bool, u64, &str); 6] = [
        (0, false, 0, "qrescue"),
        (17, true, 20_000, "qrescue"),
        (63, false, 1, ""),
        (5, true, u64::from(u32::MAX), &long[..31]),
        (1, false, 0, long),
        (2, true, 0, "kn\u{f6}pfchen"),
    ];
    for (offset, low, debounce, consumer) in v2_cases {
        let (o, l, d) = (
            offset.to_string(),
            u8::from(low).to_string(),
            debounce.to_string(),
        );
        let header = oracle.run(&["v2", &o, &l, &d, consumer]);
        let ours = line_request(offset, low, debounce, consumer.as_bytes());
        assert_eq!(
            header,
            [hex(&line_request_bytes(&ours))],
            "v2 request {offset} {low} {debounce} {consumer:?}: header (left), ours (right)"
        );
    }
    for (offset, low, consumer) in [(0, false, "qrescue"), (17, true, ""), (63, true, long)] {
        let (o, l) = (offset.to_string(), u8::from(low).to_string());
        let header = oracle.run(&["v1", &o, &l, consumer]);
        let ours = event_request_v1(offset, low, consumer.as_bytes());
        assert_eq!(
            header,
            [hex(&event_request_bytes(&ours))],
            "v1 request {offset} {low} {consumer:?}: header (left), ours (right)"
        );
    }
}
