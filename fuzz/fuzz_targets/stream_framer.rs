//! Fuzz the stream framer: the same bytes pushed in one piece and in chunks of sizes the
//! input chooses must give the same frames and the same error, and nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proto::{Frame, Limits, StreamFramer};

#[derive(Debug, PartialEq)]
enum Out {
    Message(Vec<u8>),
    Ping,
    Pong,
    Error(proto::FrameError),
}

fn drain(f: &mut StreamFramer, out: &mut Vec<Out>) -> bool {
    loop {
        match f.next_frame() {
            Ok(Some(Frame::Message(m))) => out.push(Out::Message(m.to_vec())),
            Ok(Some(Frame::Ping)) => out.push(Out::Ping),
            Ok(Some(Frame::Pong)) => out.push(Out::Pong),
            Ok(None) => return true,
            Err(e) => {
                out.push(Out::Error(e));
                return false;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_message_size: 4096,
        max_header_section: 2048,
        ..Limits::DEFAULT
    };
    let mut whole = Vec::new();
    let mut f = StreamFramer::new(limits);
    f.push(stream);
    drain(&mut f, &mut whole);

    let mut chunked = Vec::new();
    let mut f = StreamFramer::new(limits);
    let mut rest = stream;
    let mut size = usize::from(seed % 17) + 1;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        f.push(chunk);
        if !drain(&mut f, &mut chunked) {
            break;
        }
        rest = tail;
        size = (size * 7 + 3) % 23 + 1;
    }
    // A chunked feed may stop at an error a whole feed reports after the same frames.
    assert_eq!(whole, chunked);
});
