//! Property tests of the RESP codec: commands encoded as multibulk or as
//! quoted inline lines parse back to the same arguments, whatever the split
//! into reads; arbitrary bytes never panic the parser.

use proptest::prelude::*;

use super::{parse, Frame, ParseLimits, ReplyBuf};

fn encode_multibulk(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Quotes an argument for an inline request, escaping everything unusual.
fn quote_inline(arg: &[u8]) -> Vec<u8> {
    let mut out = vec![b'"'];
    for &b in arg {
        match b {
            b'"' | b'\\' => {
                out.push(b'\\');
                out.push(b);
            }
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
    out
}

/// Parses every complete request in `input`, returning the argument lists.
fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, String> {
    let mut pos = 0;
    let mut args = Vec::new();
    let mut scratch = Vec::new();
    let mut commands = Vec::new();
    while pos < input.len() {
        let rest = &input[pos..];
        match parse(rest, &ParseLimits::default(), &mut args, &mut scratch)
            .map_err(|e| e.to_string())?
        {
            Frame::Incomplete { .. } => break,
            Frame::Multibulk { consumed } => {
                commands.push(
                    args.iter()
                        .map(|&(s, e)| rest[s as usize..e as usize].to_vec())
                        .collect(),
                );
                pos += consumed;
            }
            Frame::Inline { consumed } => {
                commands.push(
                    args.iter()
                        .map(|&(s, e)| scratch[s as usize..e as usize].to_vec())
                        .collect(),
                );
                pos += consumed;
            }
        }
    }
    Ok(commands)
}

fn arg_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..64)
}

proptest! {
    #[test]
    fn multibulk_round_trip(commands in prop::collection::vec(prop::collection::vec(arg_strategy(), 1..8), 1..8)) {
        let mut wire = Vec::new();
        for command in &commands {
            wire.extend(encode_multibulk(command));
        }
        prop_assert_eq!(parse_all(&wire).unwrap(), commands);
    }

    #[test]
    fn every_prefix_is_incomplete_not_wrong(args in prop::collection::vec(arg_strategy(), 1..6), cut in any::<prop::sample::Index>()) {
        let wire = encode_multibulk(&args);
        let cut = cut.index(wire.len());
        let mut ranges = Vec::new();
        let mut scratch = Vec::new();
        let frame = parse(&wire[..cut], &ParseLimits::default(), &mut ranges, &mut scratch);
        prop_assert!(matches!(frame, Ok(Frame::Incomplete { .. })), "{:?}", frame);
    }

    #[test]
    fn inline_round_trip(args in prop::collection::vec(arg_strategy(), 1..6)) {
        let mut line = Vec::new();
        for arg in &args {
            line.extend(quote_inline(arg));
            line.push(b' ');
        }
        line.extend_from_slice(b"\r\n");
        let parsed = parse_all(&line).unwrap();
        prop_assert_eq!(parsed, vec![args]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_all(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_star_never_panic(bytes in prop::collection::vec(prop::sample::select(b"*$0123456789-\r\nab".to_vec()), 0..128)) {
        let mut input = b"*".to_vec();
        input.extend(bytes);
        let _ = parse_all(&input);
    }

    #[test]
    fn bulk_replies_frame_exactly(data in arg_strategy(), resp3 in any::<bool>()) {
        let mut out = Vec::new();
        let mut reply = ReplyBuf::new(&mut out, resp3);
        reply.array(2);
        reply.bulk(&data);
        reply.null();
        let end = crate::shard::gather_value_end(&out, 0);
        prop_assert_eq!(end, Some(out.len()));
    }
}
