//! Number formats of the tensors we write: IEEE half precision (`F16`) and
//! ggml's `Q8_0` blocks (32 weights share one `f16` scale; each weight is an
//! `i8`). Pure functions over slices; no allocation beyond the output.

/// Weights per `Q8_0` block.
pub const Q8_0_BLOCK: usize = 32;
/// Bytes per `Q8_0` block: the `f16` scale, then 32 `i8`.
pub const Q8_0_BLOCK_BYTES: usize = 2 + Q8_0_BLOCK;

/// `x` as the bits of the nearest IEEE 754 half (ties to even); values past
/// the half range become infinities, NaN stays NaN.
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x007f_ffff;
    if exp == 0xff {
        // Inf or NaN; keep NaN quiet and non-zero.
        let nan = if man != 0 { 0x0200 } else { 0 };
        return sign | 0x7c00 | nan;
    }
    // Unbiased exponent rebased on the half bias (15).
    let half_exp = exp - 127 + 15;
    if half_exp >= 0x1f {
        return sign | 0x7c00;
    }
    if half_exp <= 0 {
        // Subnormal half (or zero): shift the implicit-one mantissa right.
        if half_exp < -10 {
            return sign;
        }
        let man = man | 0x0080_0000;
        let shift = (14 - half_exp) as u32;
        let half_man = man >> shift;
        let rest = man & ((1 << shift) - 1);
        let halfway = 1 << (shift - 1);
        let round_up = rest > halfway || (rest == halfway && half_man & 1 == 1);
        return sign | (half_man + u32::from(round_up)) as u16;
    }
    let half = ((half_exp as u32) << 10) | (man >> 13);
    let rest = man & 0x1fff;
    let round_up = rest > 0x1000 || (rest == 0x1000 && half & 1 == 1);
    // A carry out of the mantissa correctly bumps the exponent (up to Inf).
    sign | (half + u32::from(round_up)) as u16
}

/// The value of half-precision bits `h`.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x03ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: value = man * 2^-24.
            let v = man as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// Appends `values` as little-endian `f16` to `out`.
pub fn encode_f16(values: &[f32], out: &mut Vec<u8>) {
    out.reserve(values.len() * 2);
    for &v in values {
        out.extend_from_slice(&f32_to_f16(v).to_le_bytes());
    }
}

/// Appends `values` as little-endian `f32` to `out`.
pub fn encode_f32(values: &[f32], out: &mut Vec<u8>) {
    out.reserve(values.len() * 4);
    for &v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends `values` as `Q8_0` blocks to `out`: per block of 32, the scale
/// `d = max|x| / 127` (as `f16`) and `round(x / d)` as `i8`. The caller
/// guarantees `values.len()` is a multiple of [`Q8_0_BLOCK`]; a short tail
/// would be padded with zeros.
pub fn encode_q8_0(values: &[f32], out: &mut Vec<u8>) {
    out.reserve(values.len().div_ceil(Q8_0_BLOCK) * Q8_0_BLOCK_BYTES);
    for block in values.chunks(Q8_0_BLOCK) {
        let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let inv = if d == 0.0 { 0.0 } else { 1.0 / d };
        out.extend_from_slice(&f32_to_f16(d).to_le_bytes());
        for i in 0..Q8_0_BLOCK {
            let v = block.get(i).copied().unwrap_or(0.0);
            // |v * inv| <= 127 up to rounding; the clamp guards the edge.
            let q = (v * inv).round().clamp(-127.0, 127.0) as i8;
            out.push(q as u8);
        }
    }
}

/// Decodes `Q8_0` blocks (the inverse of [`encode_q8_0`], up to rounding).
pub fn decode_q8_0(bytes: &[u8]) -> Vec<f32> {
    let mut out = Vec::with_capacity(bytes.len() / Q8_0_BLOCK_BYTES * Q8_0_BLOCK);
    for block in bytes.chunks_exact(Q8_0_BLOCK_BYTES) {
        let d = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
        out.extend(block[2..].iter().map(|&q| f32::from(q as i8) * d));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_known_values() {
        let cases: &[(f32, u16)] = &[
            (0.0, 0x0000),
            (-0.0, 0x8000),
            (1.0, 0x3c00),
            (-2.0, 0xc000),
            (0.5, 0x3800),
            (65504.0, 0x7bff),
            (65520.0, 0x7c00), // rounds up past the largest half
            (1e10, 0x7c00),
            (f32::INFINITY, 0x7c00),
            (f32::NEG_INFINITY, 0xfc00),
            (6.103_515_6e-5, 0x0400),     // smallest normal
            (5.960_464_5e-8, 0x0001),     // smallest subnormal
            (2.980_232_2e-8, 0x0000),     // half of it: ties to even (0)
            (4.470_348_4e-8, 0x0001),     // 0.75 of it rounds up
            (1.0 + 1.0 / 2048.0, 0x3c00), // tie, to even
            (1.0 + 3.0 / 2048.0, 0x3c02), // tie, to even (up)
            (0.333_333_34, 0x3555),
        ];
        for &(x, h) in cases {
            assert_eq!(f32_to_f16(x), h, "{x}");
        }
        assert!(f16_to_f32(f32_to_f16(f32::NAN)).is_nan());
    }

    #[test]
    fn f16_round_trips_every_half() {
        for h in 0..=u16::MAX {
            let exp = (h >> 10) & 0x1f;
            if exp == 0x1f && h & 0x3ff != 0 {
                continue; // NaN payloads are not preserved bit for bit
            }
            assert_eq!(f32_to_f16(f16_to_f32(h)), h, "{h:#06x}");
        }
    }

    #[test]
    fn f16_error_is_within_half_an_ulp() {
        let mut x = 1.0e-4f32;
        while x < 6.0e4 {
            let back = f16_to_f32(f32_to_f16(x));
            assert!((back - x).abs() / x <= 1.0 / 2048.0 + 1e-7, "{x} -> {back}");
            x *= 1.013;
        }
    }

    #[test]
    fn q8_0_layout_and_error() {
        let values: Vec<f32> = (0..64).map(|i| ((i as f32) * 0.37).sin() * 3.0).collect();
        let mut bytes = Vec::new();
        encode_q8_0(&values, &mut bytes);
        assert_eq!(bytes.len(), 2 * Q8_0_BLOCK_BYTES);
        // The largest magnitude of each block maps to ±127.
        for block in bytes.chunks_exact(Q8_0_BLOCK_BYTES) {
            assert!(block[2..].iter().any(|&q| (q as i8).unsigned_abs() == 127));
        }
        let decoded = decode_q8_0(&bytes);
        for (block, (orig, back)) in values
            .chunks(Q8_0_BLOCK)
            .zip(decoded.chunks(Q8_0_BLOCK))
            .enumerate()
        {
            let amax = orig.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for (a, b) in orig.iter().zip(back) {
                // Half a quantization step, plus the f16 rounding of the scale
                // (relative 2^-11, times at most 127 steps = amax).
                let bound = amax / 127.0 * 0.5 + amax / 2048.0;
                assert!((a - b).abs() <= bound, "block {block}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn q8_0_zero_block_and_exact_values() {
        let mut bytes = Vec::new();
        encode_q8_0(&[0.0; 32], &mut bytes);
        assert_eq!(bytes, vec![0u8; Q8_0_BLOCK_BYTES]);
        // Multiples of 1/127 with max 1.0 are exact: d = 1/127.
        let values: Vec<f32> = (0..32).map(|i| (i as f32 - 16.0) / 127.0).collect();
        let mut with_max = values.clone();
        with_max[0] = 1.0;
        bytes.clear();
        encode_q8_0(&with_max, &mut bytes);
        assert_eq!(bytes[2] as i8, 127);
        assert_eq!(bytes[2 + 17] as i8, 1);
        assert_eq!(bytes[2 + 1] as i8, -15);
    }
}
