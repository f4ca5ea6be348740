//! Turns the bytes of generated tokens into text deltas that are safe to send:
//! never a partial UTF-8 character, never any part of a stop string.
//!
//! Owned by one sequence on the scheduler thread. Invariants: `pending` holds
//! only the start of an incomplete UTF-8 character; `held` is the longest
//! suffix of the decoded text that could still grow into a stop string, and is
//! emitted once it cannot.

/// What one push produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// Text safe to emit now (may be empty).
    Text(String),
    /// A stop string matched: the text before it, and generation must end.
    Stopped(String),
}

/// Incremental UTF-8 decoder plus stop-string holdback.
#[derive(Debug, Default)]
pub struct TextStream {
    pending: Vec<u8>,
    held: String,
    stops: Vec<String>,
}

impl TextStream {
    /// A stream that ends at any of `stops` (empty strings are ignored).
    pub fn new(stops: &[String]) -> TextStream {
        let stops = stops.iter().filter(|s| !s.is_empty()).cloned().collect();
        TextStream {
            pending: Vec::new(),
            held: String::new(),
            stops,
        }
    }

    /// Add the bytes of one token.
    pub fn push(&mut self, bytes: &[u8]) -> Push {
        self.pending.extend_from_slice(bytes);
        let decoded = decode_complete(&mut self.pending);
        self.held.push_str(&decoded);
        if let Some(at) = self.earliest_stop() {
            self.held.truncate(at);
            return Push::Stopped(std::mem::take(&mut self.held));
        }
        let keep = self.partial_stop_len();
        let emit_len = self.held.len() - keep;
        let rest = self.held.split_off(emit_len);
        Push::Text(std::mem::replace(&mut self.held, rest))
    }

    /// The end of generation: everything held back is released (an incomplete
    /// character becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        let mut out = std::mem::take(&mut self.held);
        if !self.pending.is_empty() {
            out.push_str(&String::from_utf8_lossy(&self.pending));
            self.pending.clear();
        }
        out
    }

    fn earliest_stop(&self) -> Option<usize> {
        self.stops
            .iter()
            .filter_map(|stop| self.held.find(stop.as_str()))
            .min()
    }

    /// Length of the longest suffix of `held` that is a proper prefix of a stop.
    fn partial_stop_len(&self) -> usize {
        let held = self.held.as_bytes();
        self.stops
            .iter()
            .map(|stop| {
                let stop = stop.as_bytes();
                (1..stop.len().min(held.len() + 1))
                    .rev()
                    .find(|&k| held.ends_with(&stop[..k]))
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0)
    }
}

/// Decode the complete characters at the front of `bytes`, leaving the start
/// of an incomplete one; invalid sequences become U+FFFD.
fn decode_complete(bytes: &mut Vec<u8>) -> String {
    let mut out = String::new();
    loop {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                out.push_str(text);
                bytes.clear();
                return out;
            }
            Err(error) => {
                let valid = error.valid_up_to();
                out.push_str(std::str::from_utf8(&bytes[..valid]).unwrap_or_default());
                match error.error_len() {
                    Some(bad) => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        bytes.drain(..valid + bad);
                    }
                    None => {
                        bytes.drain(..valid);
                        return out;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&[u8]]) -> (Vec<String>, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut stream = TextStream::new(&stops);
        let mut out = Vec::new();
        for piece in pieces {
            match stream.push(piece) {
                Push::Text(t) => out.push(t),
                Push::Stopped(t) => {
                    out.push(t);
                    return (out, true);
                }
            }
        }
        out.push(stream.finish());
        (out, false)
    }

    #[test]
    fn never_splits_a_character() {
        let snowman = "☃".as_bytes();
        let (out, _) = run(
            &[],
            &[b"a", &snowman[..1], &snowman[1..2], &snowman[2..], b"b"],
        );
        assert_eq!(out, ["a", "", "", "☃", "b", ""]);
        assert!(out.iter().all(|s| !s.contains('\u{FFFD}')));
    }

    #[test]
    fn holds_back_partial_stop_and_stops_across_tokens() {
        let (out, stopped) = run(&["</end>"], &[b"hello </", b"en", b"d> tail"]);
        assert_eq!(out, ["hello ", "", ""]);
        assert!(stopped);
        assert_eq!(out.concat(), "hello ");
    }

    #[test]
    fn releases_a_false_alarm() {
        let (out, stopped) = run(&["STOP"], &[b"ST", b"ar", b"t"]);
        assert!(!stopped);
        assert_eq!(out.concat(), "STart");
        assert_eq!(out[0], "");
    }

    #[test]
    fn earliest_of_several_stops_wins_and_invalid_bytes_are_replaced() {
        let (out, stopped) = run(&["bb", "a"], &[b"xxbba"]);
        assert!(stopped);
        assert_eq!(out.concat(), "xx");
        let (out, _) = run(&[], &[&[0xff, b'o', b'k']]);
        assert_eq!(out.concat(), "\u{FFFD}ok");
    }
}
