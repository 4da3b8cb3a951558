//! Deterministic workloads shared by `workwise tour`, `workwise-bench` and
//! the examples, so that all three measure the same work: generated text and
//! a word count, generated grayscale images and a box blur, and a cheap and a
//! heavy function on integers.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::collections::HashMap;

/// A small, fast, deterministic pseudo-random generator (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; zero is mapped to a fixed one).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// A cheap function: a few integer operations (well under 1 ns of work).
#[inline]
pub fn cheap(x: u64) -> u64 {
    (x ^ (x >> 7)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 3
}

/// A heavier function: about 1 µs of dependent integer work on a 2020s core.
#[inline]
pub fn heavy(x: u64) -> u64 {
    let mut h = x | 1;
    for _ in 0..400 {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
    }
    h
}

/// Generated text and its word count.
pub mod text {
    use super::*;

    const SYLLABLES: [&str; 24] = [
        "ka", "lo", "mi", "ren", "sa", "tu", "vor", "el", "an", "qui", "do", "ber", "ni", "sto",
        "ul", "fa", "ge", "ho", "ja", "ly", "pe", "ro", "zi", "wen",
    ];

    /// About `bytes` bytes of words separated by spaces and newlines, from a
    /// vocabulary of a few thousand words with a skewed (Zipf-like) frequency.
    pub fn generate(bytes: usize, seed: u64) -> String {
        let mut rng = Rng::new(seed);
        let vocabulary: Vec<String> = (0..4000)
            .map(|_| {
                let n = 1 + rng.below(3) as usize;
                (0..n)
                    .map(|_| SYLLABLES[rng.below(SYLLABLES.len() as u64) as usize])
                    .collect()
            })
            .collect();
        let mut out = String::with_capacity(bytes + 16);
        let mut line = 0;
        while out.len() < bytes {
            // Squaring a uniform number favours the first words: a few are
            // very common, most are rare, as in real text.
            let u = rng.below(1 << 16) as usize;
            let word = &vocabulary[((u * u * vocabulary.len()) >> 32).min(vocabulary.len() - 1)];
            out.push_str(word);
            line += word.len() + 1;
            if line > 70 {
                out.push('\n');
                line = 0;
            } else {
                out.push(' ');
            }
        }
        out
    }

    /// Cuts `text` into about `n` blocks at whitespace, so no word is split.
    pub fn blocks(text: &str, n: usize) -> Vec<&str> {
        let n = n.max(1);
        let target = text.len().div_ceil(n).max(1);
        let mut out = Vec::with_capacity(n);
        let mut rest = text;
        while !rest.is_empty() {
            let mut cut = target.min(rest.len());
            while cut < rest.len() && !rest.as_bytes()[cut].is_ascii_whitespace() {
                cut += 1;
            }
            let (block, tail) = rest.split_at(cut);
            out.push(block);
            rest = tail;
        }
        out
    }

    /// Word counts of one block.
    pub fn count_words(block: &str) -> HashMap<&str, u64> {
        let mut counts = HashMap::new();
        for word in block.split_ascii_whitespace() {
            *counts.entry(word).or_insert(0) += 1;
        }
        counts
    }

    /// Adds `b`'s counts into `a` (the larger map absorbs the smaller).
    pub fn merge<'a>(a: HashMap<&'a str, u64>, b: HashMap<&'a str, u64>) -> HashMap<&'a str, u64> {
        let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
        for (word, n) in small {
            *big.entry(word).or_insert(0) += n;
        }
        big
    }

    /// The number of words counted, summed over all words.
    pub fn total(counts: &HashMap<&str, u64>) -> u64 {
        counts.values().sum()
    }
}

/// Generated grayscale images and a box blur.
pub mod image {
    use super::Rng;

    /// An 8-bit grayscale image, row-major.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Gray {
        /// Width in pixels.
        pub width: usize,
        /// Height in pixels.
        pub height: usize,
        /// `width * height` pixels, row by row.
        pub pixels: Vec<u8>,
    }

    /// A noisy gradient image, different for each seed.
    pub fn generate(width: usize, height: usize, seed: u64) -> Gray {
        let mut rng = Rng::new(seed);
        let pixels = (0..width * height)
            .map(|i| {
                let (x, y) = (i % width, i / width);
                let base = (x + y) * 255 / (width + height).max(1);
                (base as u64 + rng.below(64)).min(255) as u8
            })
            .collect();
        Gray {
            width,
            height,
            pixels,
        }
    }

    /// A box blur of the given radius: each pixel becomes the mean of the
    /// `(2r + 1)²` square around it (clamped at the edges), computed as a
    /// horizontal then a vertical running sum.
    pub fn box_blur(img: &Gray, radius: usize) -> Gray {
        let (w, h) = (img.width, img.height);
        let horizontal = pass(&img.pixels, w, h, radius, 1, w);
        let pixels = pass(&horizontal, h, w, radius, w, 1);
        Gray {
            width: w,
            height: h,
            pixels,
        }
    }

    /// One running-sum pass along lines of `len` pixels, `step` apart, with
    /// lines `stride` apart.
    fn pass(src: &[u8], len: usize, lines: usize, r: usize, step: usize, stride: usize) -> Vec<u8> {
        let mut out = vec![0u8; src.len()];
        for line in 0..lines {
            let at = |i: usize| src[line * stride + i * step] as u32;
            let mut sum: u32 = 0;
            let mut count: u32 = 0;
            for i in 0..=r.min(len.saturating_sub(1)) {
                sum += at(i);
                count += 1;
            }
            for i in 0..len {
                out[line * stride + i * step] = (sum / count) as u8;
                if i + r + 1 < len {
                    sum += at(i + r + 1);
                    count += 1;
                }
                if i >= r {
                    sum -= at(i - r);
                    count -= 1;
                }
            }
        }
        out
    }

    /// A checksum of the pixels, to compare results cheaply.
    pub fn checksum(img: &Gray) -> u64 {
        img.pixels.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &p| {
            (h ^ p as u64).wrapping_mul(0x100_0000_01b3)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_the_text_without_splitting_words() {
        let t = text::generate(10_000, 1);
        let blocks = text::blocks(&t, 7);
        assert_eq!(blocks.concat(), t);
        let whole = text::count_words(&t);
        let merged = blocks
            .iter()
            .map(|b| text::count_words(b))
            .fold(Default::default(), text::merge);
        assert_eq!(whole, merged);
        assert!(text::total(&whole) > 1000);
    }

    #[test]
    fn box_blur_of_a_flat_image_is_flat_and_keeps_the_mean_close() {
        let flat = image::Gray {
            width: 9,
            height: 5,
            pixels: vec![100; 45],
        };
        assert_eq!(image::box_blur(&flat, 2), flat);
        let img = image::generate(64, 48, 3);
        let blurred = image::box_blur(&img, 3);
        let mean = |g: &image::Gray| {
            g.pixels.iter().map(|&p| p as f64).sum::<f64>() / g.pixels.len() as f64
        };
        assert!((mean(&img) - mean(&blurred)).abs() < 3.0);
        assert_ne!(image::checksum(&img), image::checksum(&blurred));
    }

    #[test]
    fn heavy_is_deterministic() {
        assert_eq!(heavy(5), heavy(5));
        assert_ne!(heavy(5), heavy(6));
        assert_ne!(cheap(1), cheap(2));
    }
}
