// The wide reference set: short texts that exercise every branch of GPT-2's pre-tokenizer and
// the Unicode tables behind it. make_references.mjs turns them into
// tests/data/tokenizer/cases.json with the ids of the reference tokenizer.
// Written with \u escapes wherever the character is invisible or easy to confuse.

const spaces = {
  'U+0009 tab': '\u0009', 'U+000A line feed': '\u000A', 'U+000B vertical tab': '\u000B',
  'U+000C form feed': '\u000C', 'U+000D carriage return': '\u000D', 'U+0020 space': '\u0020',
  'U+0085 next line': '\u0085', 'U+00A0 no-break space': '\u00A0', 'U+1680 ogham space': '\u1680',
  'U+2000 en quad': '\u2000', 'U+2001 em quad': '\u2001', 'U+2002 en space': '\u2002',
  'U+2003 em space': '\u2003', 'U+2004 three-per-em': '\u2004', 'U+2005 four-per-em': '\u2005',
  'U+2006 six-per-em': '\u2006', 'U+2007 figure space': '\u2007', 'U+2008 punctuation space': '\u2008',
  'U+2009 thin space': '\u2009', 'U+200A hair space': '\u200A', 'U+2028 line separator': '\u2028',
  'U+2029 paragraph separator': '\u2029', 'U+202F narrow no-break': '\u202F',
  'U+205F math space': '\u205F', 'U+3000 ideographic space': '\u3000',
  // Not White_Space, though JavaScript's \s or "looks blank" might say so:
  'U+FEFF byte order mark (not \\s)': '\uFEFF', 'U+200B zero width space (not \\s)': '\u200B',
  'U+180E mongolian vowel separator (not \\s)': '\u180E', 'U+2060 word joiner (not \\s)': '\u2060',
};

const cases = [];
const add = (name, text) => cases.push({ name, text });

// ---- every Unicode space, in every position that matters to the pattern ----
for (const [name, s] of Object.entries(spaces)) {
  add(`space ${name}: between words`, `a${s}b`);
  add(`space ${name}: doubled before a word`, `a${s}${s}b`);
  add(`space ${name}: after a space, before digits`, `x ${s}12`);
  add(`space ${name}: at the end`, `end${s}`);
  add(`space ${name}: alone`, s);
}
add('all spaces in a row, then a word', Object.values(spaces).join('') + 'word');

// ---- contractions, every case (GPT-2's pattern is case-sensitive) ----
for (const c of ['s', 't', 're', 've', 'm', 'll', 'd']) {
  const variants = new Set([c, c.toUpperCase(), c[0].toUpperCase() + c.slice(1), c.length > 1 ? c[0] + c[1].toUpperCase() : c]);
  for (const v of variants) add(`contraction '${v}`, `it'${v} they'${v} '${v}x ''${v} ' ${v}`);
}
add('contractions run together', "I'm you're we've he'll she'd it's don't");
add('contractions in capitals', "I'M YOU'RE WE'VE HE'LL SHE'D IT'S DON'T");
add('apostrophe variants', "it\u2019s it`s it\u02BCs it''s 'tis '' ' 's");
add('apostrophe before digits and symbols', "'90s '!! '\u3000 '\n's");

// ---- runs of spaces, tabs and newlines ----
add('runs of spaces', 'a b  c   d    e     f');
add('runs before digits and symbols', 'x  1   22    !!!     ?');
add('tabs and newlines', 'a\tb\t\tc\n\nd\r\ne\n \n  \tf');
add('indented code', 'def f(x):\n    if x:\n        return x\n\n\treturn None\n');
add('trailing spaces', 'line   \nnext \t \n   ');
add('leading spaces', '   start');
add('only newlines', '\n\n\n\n');
add('mixed space run then word', ' \t \u00A0 \u3000word');

// ---- scripts ----
add('Korean', '토큰은 단어가 아닙니다. 한국어 문장은 영어보다 더 많은 토큰으로 나뉩니다!');
add('Korean with numbers and punctuation', '2024년 3월 15일(금) 오후 2시 30분, 서울시청 앞에서 만나요~ ㅋㅋㅋ');
add('Korean jamo and compatibility jamo', '한 ㄱㄴㄷ ㅏㅑㅓ ᄀᄁ');
add('Japanese', '東京は日本の首都です。ひらがな、カタカナ、漢字を混ぜて書きます。ｶﾀｶﾅ');
add('Chinese', '机器学习模型把文本切分成词元，然后预测下一个词元。繁體中文也可以。');
add('Arabic', 'مرحبا بالعالم! النموذج اللغوي يتنبأ بالكلمة التالية. ٣٤٥');
add('Devanagari', 'नमस्ते दुनिया। भाषा मॉडल अगला शब्द बताता है। १२३४');
add('Thai', 'สวัสดีครับ โมเดลภาษาทำนายคำถัดไป ๑๒๓');
add('Hebrew with niqqud', 'שָׁלוֹם עוֹלָם');
add('Greek and Cyrillic', 'Καλημέρα κόσμε. Привет, мир! Ёжик.');
add('Vietnamese (precomposed and combining)', 'Tiếng Việt có dấu: Tiê\u0301ng Viê\u0323t');
add('combining marks', 'e\u0301 a\u0308 o\u0302\u0323 n\u0303 \u0301alone x\u20DD 1\u20E3 Z\u0351\u0362\u0334');
add('Hangul syllable vs decomposed', '\uD55C \u1112\u1161\u11AB');

// ---- emoji ----
add('emoji simple', 'I \u2764\uFE0F tokens \u{1F600}\u{1F602}!');
add('emoji ZWJ family', 'family: \u{1F468}\u200D\u{1F469}\u200D\u{1F467}\u200D\u{1F466}');
add('emoji skin tones', '\u{1F44D}\u{1F3FB}\u{1F44D}\u{1F3FC}\u{1F44D}\u{1F3FD}\u{1F44D}\u{1F3FE}\u{1F44D}\u{1F3FF}');
add('emoji flags', 'flags \u{1F1F0}\u{1F1F7} \u{1F1FA}\u{1F1F8} \u{1F1EF}\u{1F1F5} \u{1F3F4}\u200D\u2620\uFE0F \u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}');
add('emoji keycaps and modifiers', '#\uFE0F\u20E3 1\uFE0F\u20E3 \u{1F9D1}\u{1F3FD}\u200D\u{1F4BB} \u{1F469}\u{1F3FF}\u200D\u2764\uFE0F\u200D\u{1F48B}\u200D\u{1F468}\u{1F3FB}');
add('emoji next to letters and digits', 'abc\u{1F600}def 123\u{1F600}456 \u{1F600}abc');

// ---- digits of other scripts and other numbers ----
add('digits of other scripts', '0123 ٠١٢٣ ۰۱۲۳ ०१२३ ০১২৩ ๐๑๒๓ ０１２３ 𝟎𝟏𝟐𝟑 ߀߁߂');
add('other numbers', '½ ¾ ² ³ Ⅻ ⅻ ① ⑳ 〇 𐄇 ٫ 3.14 1,000,000 -42 1e10 0x1F');
add('numbers glued to letters', 'abc123def 12abc a1b2c3 H2O CO2 3D');

// ---- source code ----
add('C++ code', 'template <typename T>\nstd::vector<T> f(const T& x) {\n  return {x, x * 2};  // ok\n}\n');
add('Python code', 'def encode(self, text: str) -> list[int]:\n    """Encode."""\n    return [self.stoi[c] for c in text]\n');
add('JSON and URLs', '{"url": "https://example.com/a?b=1&c=%20", "n": -1.5e-3, "ok": true}');
add('shell and paths', 'cd ~/src && make -j$(nproc) 2>&1 | tee build.log # done\r\n');
add('symbols runs', '!!!??? ... --- === +++ *** /// \\\\\\ ||| &&& @@@ ### $$$ %%% ^^^ ~~~ ``` <<< >>>');

// ---- letters and digits new in Unicode 16.0 (unassigned in 15.1) ----
// Each is followed by a contraction, where the class decides the ids: after a letter (or a
// digit) "'s" is its own piece, one token (338); after an "other" character, as these were in
// Unicode 15.1, the apostrophe joins the other-run and "s" is left alone: different ids.
const glue = (c) => `${c}'s ${c}'ll a${c}b !${c}! ${c}${c} x`;
const glueDigit = (d) => `${d}'s ${d}'ve 1${d}2 a${d}b ${d}${d} x`;
const u16 = {
  'Cyrillic TJE': '\u{1C89}', 'Latin capital S with diagonal stroke': '\u{A7CB}', 'Latin small S with diagonal stroke': '\u{A7CD}',
  'Latin capital lambda': '\u{A7DC}', 'Todhri': '\u{105C0}', 'Garay': '\u{10D4A}', 'Garay small': '\u{10D70}',
  'Arabic extended-C': '\u{10EC2}', 'Tulu-Tigalari': '\u{11380}', 'Sunuwar': '\u{11BC0}',
  'Egyptian hieroglyphs ext-A': '\u{13460}', 'Gurung Khema': '\u{16100}', 'Kirat Rai': '\u{16D40}',
  'Khitan small script': '\u{18CFF}', 'Ol Onal': '\u{1E5D0}',
};
for (const [name, c] of Object.entries(u16)) add(`Unicode 16 letter: ${name}`, glue(c));
const u16digits = {
  'Garay digit': '\u{10D40}', 'Myanmar Pao digit': '\u{116D0}', 'Sunuwar digit': '\u{11BF0}',
  'Gurung Khema digit': '\u{16130}', 'Kirat Rai digit': '\u{16D70}', 'outlined digit': '\u{1CCF0}',
  'Ol Onal digit': '\u{1E5F1}',
};
for (const [name, d] of Object.entries(u16digits)) add(`Unicode 16 digit: ${name}`, glueDigit(d));
// Assigned only in Unicode 17.0: still "other" under the pinned 16.0 tables.
const u17 = { 'Arabic U+088F': '\u{088F}', 'Sidetic': '\u{10940}', 'Tai Yo': '\u{1E6C0}', 'Beria Erfe': '\u{16EA0}' };
for (const [name, c] of Object.entries(u17)) add(`Unicode 17 only (other here): ${name}`, glue(c));
add('Unicode 17 only digit (other here): Tolong Siki', glueDigit('\u{11DE0}'));
add('unassigned and private use', 'a\u{0378}b \u{E000}\u{F8FF} \u{10FFFD} \u{FFFF}\u{FFFE}');

// ---- special tokens (plain text for encode, one id for encode_with_special) ----
add('special token alone', '<|endoftext|>');
add('special tokens in text', 'one<|endoftext|>two <|endoftext|> three<|endoftext|><|endoftext|>');
add('special token split and broken', '<|endoftext| <|endoftext |> <|endoftext|>|>  <<|endoftext|>>');

// ---- odd corners ----
add('empty', '');
add('single characters', 'a');
add('control characters', '\u0000\u0001\u001F\u007F\u0080\u009F x\u0000y');
add('long word', 'Pneumonoultramicroscopicsilicovolcanoconiosis supercalifragilisticexpialidocious');
add('long run of one letter', 'a'.repeat(300));
add('long run of spaces then a word', ' '.repeat(300) + 'x');
add('long run of one emoji', '\u{1F600}'.repeat(100));
add('long run of mixed symbols', '=-'.repeat(150));
add('long Hangul without spaces', '가나다라마바사아자차카타파하'.repeat(20));

export default cases;
