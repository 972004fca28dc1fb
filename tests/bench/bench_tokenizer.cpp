// bench_tokenizer — how fast minigpt's GPT-2 tokenizer encodes, beside tiktoken and Hugging
// Face tokenizers measured in the same run on the same text.
//
//   bench_tokenizer [--mb 5] [--doc-kb 10] [--no-peer]
//
// The text (about 5 MB) mixes English (tiny Shakespeare, repeated as needed), Korean (sentences
// drawn from a fixed word list plus random syllables, so not every word repeats) and source
// code (this repository's own .hpp/.cpp files), interleaved in blocks of a few kilobytes.
// Measured, best of 3:
//   - loading GPT-2's encoder.json + vocab.bpe;
//   - encode of the whole text in one call, one thread;
//   - the same text cut into documents of ~10 KB at line ends: one thread, then all threads
//     (OpenMP, Tokenizer::encode_batch);
//   - one-megabyte single pieces (one letter, spaces, one emoji): the no-quadratic check;
//   - training 4,000 merges on tiny Shakespeare.
// The peer is tests/tokenizer/bench_peer.mjs (run `npm install` in tests/tokenizer once); its
// ids are compared with ours through a checksum, so a fast but wrong result would show.
#include <minigpt/bpe_tokenizer.hpp>
#include <minigpt/bpe_trainer.hpp>
#include <minigpt/random.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <dirent.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

using namespace minigpt;

namespace {

const std::string kSource = MINIGPT_SOURCE_DIR;

double best_of(int runs, const std::function<void()>& f) {
  double best = 1e300;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// Korean sentences: common words and particles, plus random syllables for rarer words.
std::string korean_text(std::size_t bytes, Rng& rng) {
  static const char* words[] = {
      "토큰", "단어", "문장", "모델", "언어", "학습", "데이터", "사람", "시간", "오늘", "내일", "어제", "학교",
      "회사", "컴퓨터", "인공지능", "질문", "대답", "생각", "이야기", "세상", "도시", "바다", "하늘", "나무",
      "공원", "음식", "커피", "친구", "가족", "아이들", "선생님", "책", "영화", "음악", "노래", "사진", "여행",
      "계획", "문제", "방법", "결과", "이유", "의미", "정보", "기술", "과학", "연구", "실험", "숫자", "글자",
      "예측", "확률", "다음", "처음", "마지막", "함께", "정말", "아주", "조금", "많이", "빨리", "천천히", "다시",
      "그리고", "하지만", "그래서", "그런데", "왜냐하면", "만약", "아마", "벌써", "아직", "항상", "가끔"};
  static const char* particles[] = {"", "", "은", "는", "이", "가", "을", "를", "에", "에서", "의", "와", "과",
                                    "도", "로", "으로", "에게", "부터", "까지", "만"};
  static const char* endings[] = {"다.", "요.", "니다.", "까?", "네요.", "습니다.", "어요!", "지만,", "고,"};
  std::string out;
  while (out.size() < bytes) {
    const std::uint64_t n_words = 5 + rng.below(10);
    for (std::uint64_t w = 0; w < n_words; ++w) {
      if (rng.below(5) == 0) {  // a rarer word: 2 or 3 random syllables
        for (std::uint64_t s = 0, n = 2 + rng.below(2); s < n; ++s)
          out += encode_utf8(static_cast<char32_t>(0xAC00 + rng.below(2350)));
      } else {
        out += words[rng.below(std::size(words))];
      }
      out += particles[rng.below(std::size(particles))];
      out += ' ';
    }
    out += "하";
    out += endings[rng.below(std::size(endings))];
    out += rng.below(6) == 0 ? "\n\n" : " ";
  }
  return out;
}

// This repository's own source files, concatenated.
std::string source_code() {
  std::string out;
  for (const char* sub : {"/include/minigpt", "/include/minigpt/detail", "/tests", "/examples"}) {
    const std::string dir = kSource + sub;
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      const auto dot = name.rfind('.');
      if (dot != std::string::npos && (name.substr(dot) == ".hpp" || name.substr(dot) == ".cpp")) names.push_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      if (name == "unicode_tables.hpp") continue;  // mostly hex numbers, not typical code
      out += detail::read_file(dir + "/" + name);
    }
  }
  return out;
}

// The mixed text: blocks of English, Korean and code, in turn, cut at line ends.
std::string mixed_text(std::size_t target) {
  const std::string english = detail::read_file(kSource + "/tests/data/tinyshakespeare.txt");
  const std::string code = source_code();
  Rng rng(2024);
  const std::string korean = korean_text(target * 3 / 10 + 10000, rng);
  std::size_t e = 0, k = 0, c = 0;
  std::string out;
  auto take = [&](const std::string& from, std::size_t& pos, std::size_t n) {
    if (pos >= from.size()) pos = 0;
    std::size_t end = std::min(from.size(), pos + n);
    while (end < from.size() && from[end - 1] != '\n') ++end;
    out.append(from, pos, end - pos);
    pos = end;
  };
  while (out.size() < target) {
    take(english, e, 8000);
    take(korean, k, 6000);
    take(code, c, 6000);
  }
  return out;
}

// Documents of about doc_bytes, cut at line ends (the peer cuts the same way).
std::vector<std::string> split_documents(const std::string& text, std::size_t doc_bytes) {
  std::vector<std::string> docs;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = std::min(text.size(), start + doc_bytes);
    while (end < text.size() && text[end - 1] != '\n') ++end;
    docs.push_back(text.substr(start, end - start));
    start = end;
  }
  return docs;
}

std::pair<std::size_t, std::uint64_t> checksum(const std::vector<std::vector<TokenId>>& lists) {
  std::uint64_t sum = 0, pos = 0;
  std::size_t count = 0;
  for (const auto& ids : lists)
    for (TokenId id : ids) {
      sum = (sum + std::uint64_t(id) * ++pos) % 4294967296ull;
      ++count;
    }
  return {count, sum};
}

struct Row {
  std::string name;
  double seconds = 0, mb_per_s = 0;
  std::size_t tokens = 0;
  std::uint64_t checksum = 0;
};

// Runs the node peer and reads its JSON lines.
std::vector<Row> run_peer(const std::string& text_file, std::size_t doc_bytes) {
  const std::string dir = kSource + "/tests/tokenizer";
  if (::access((dir + "/node_modules/tiktoken").c_str(), R_OK) != 0) {
    std::cout << "peer skipped: run `npm install` in tests/tokenizer to measure tiktoken and HF tokenizers\n";
    return {};
  }
  const std::string cmd = "node '" + dir + "/bench_peer.mjs' '" + text_file + "' '" + kSource +
                          "/tests/data/gpt2/encoder.json' '" + kSource + "/tests/data/gpt2/vocab.bpe' " +
                          std::to_string(doc_bytes);
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {};
  std::vector<Row> rows;
  char line[4096];
  while (std::fgets(line, sizeof line, p)) {
    try {
      const auto j = nlohmann::json::parse(line);
      Row r;
      r.name = j.at("name").get<std::string>();
      r.seconds = j.at("seconds").get<double>();
      r.mb_per_s = j.at("mb_per_s").get<double>();
      if (j.contains("tokens")) r.tokens = j.at("tokens").get<std::size_t>();
      if (j.contains("checksum")) r.checksum = j.at("checksum").get<std::uint64_t>();
      rows.push_back(r);
    } catch (const std::exception&) {
      std::cout << "peer: " << line;
    }
  }
  if (::pclose(p) != 0) std::cout << "peer exited with an error\n";
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  double megabytes = 5;
  std::size_t doc_bytes = 10000;
  bool peer = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--mb" && i + 1 < argc) megabytes = std::atof(argv[++i]);
    else if (a == "--doc-kb" && i + 1 < argc) doc_bytes = static_cast<std::size_t>(std::atof(argv[++i]) * 1000);
    else if (a == "--no-peer") peer = false;
    else {
      std::cerr << "usage: bench_tokenizer [--mb 5] [--doc-kb 10] [--no-peer]\n";
      return 2;
    }
  }
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif

  const std::string text = mixed_text(static_cast<std::size_t>(megabytes * 1e6));
  const double mb = static_cast<double>(text.size()) / 1e6;
  const auto docs = split_documents(text, doc_bytes);
  std::printf("GPT-2 encoding of %.2f MB of mixed text (English, Korean, code); %zu documents of ~%zu KB; %d thread(s)\n\n",
              mb, docs.size(), doc_bytes / 1000, threads);

  std::vector<Row> rows;
  BPETokenizer tok;
  const double load = best_of(3, [&] {
    tok = BPETokenizer::from_files(kSource + "/tests/data/gpt2/encoder.json", kSource + "/tests/data/gpt2/vocab.bpe");
  });
  rows.push_back({"minigpt load", load, 0, 0, 0});
  std::vector<TokenId> ids;
  const double one = best_of(3, [&] { ids = tok.encode(text); });
  auto [n1, c1] = checksum({ids});
  rows.push_back({"minigpt encode, 1 thread", one, mb / one, n1, c1});
  std::vector<std::vector<TokenId>> lists(docs.size());
  const double serial = best_of(3, [&] {
    for (std::size_t i = 0; i < docs.size(); ++i) lists[i] = tok.encode(docs[i]);
  });
  auto [n2, c2] = checksum(lists);
  rows.push_back({"minigpt documents, 1 thread", serial, mb / serial, n2, c2});
  const double batch = best_of(3, [&] { lists = tok.encode_batch(docs); });
  auto [n3, c3] = checksum(lists);
  rows.push_back({"minigpt documents, all threads", batch, mb / batch, n3, c3});

  std::vector<Row> peers;
  if (peer) {
    const std::string file = (std::getenv("TMPDIR") ? std::string(std::getenv("TMPDIR")) : std::string("/tmp")) +
                             "/bench_tokenizer_text." + std::to_string(::getpid()) + ".txt";
    detail::write_file_atomic(file, text);
    peers = run_peer(file, doc_bytes);
    ::unlink(file.c_str());
  }
  rows.insert(rows.end(), peers.begin(), peers.end());

  auto find = [&](const std::string& name) -> const Row* {
    for (const auto& r : rows)
      if (r.name == name) return &r;
    return nullptr;
  };
  std::printf("%-38s %9s %9s %10s %12s\n", "", "seconds", "MB/s", "tokens", "ids");
  for (const auto& r : rows) {
    std::string same = "";
    if (r.tokens > 0) {
      const Row* ours = find(r.name.find("documents") != std::string::npos ? "minigpt documents, 1 thread"
                                                                           : "minigpt encode, 1 thread");
      same = ours && ours->tokens == r.tokens && ours->checksum == r.checksum ? "same" : "DIFFERENT";
    }
    if (r.mb_per_s > 0)
      std::printf("%-38s %9.3f %9.2f %10zu %12s\n", r.name.c_str(), r.seconds, r.mb_per_s, r.tokens, same.c_str());
    else
      std::printf("%-38s %9.3f\n", r.name.c_str(), r.seconds);
  }
  std::printf("\n");
  const Row* ours = find("minigpt encode, 1 thread");
  for (const char* peer_name : {"tiktoken encode, 1 thread", "HF tokenizers encode, 1 thread"})
    if (const Row* p = find(peer_name)) std::printf("one thread:  minigpt / %-32s = %5.1fx\n", peer_name, ours->mb_per_s / p->mb_per_s);
  const Row* ours_batch = find("minigpt documents, all threads");
  for (const char* peer_name : {"tiktoken documents, 1 thread", "HF tokenizers documents, all threads"})
    if (const Row* p = find(peer_name)) std::printf("documents:   minigpt all threads / %-22s = %5.1fx\n", peer_name, ours_batch->mb_per_s / p->mb_per_s);

  // One-megabyte single pieces: each is one pre-tokenizer piece, so BPE runs on 1 MB at once.
  std::printf("\nsingle 1 MB pieces (minigpt, 1 thread):\n");
  std::string emoji;
  while (emoji.size() < 1000000) emoji += "\xF0\x9F\x98\x80";
  const std::pair<const char*, std::string> pieces[] = {
      {"1 MB of 'a'", std::string(1000000, 'a')}, {"1 MB of spaces", std::string(1000000, ' ')}, {"1 MB of one emoji", emoji}};
  for (const auto& piece : pieces) {
    const std::string& s = piece.second;
    const double t = best_of(3, [&] { ids = tok.encode(s); });
    std::printf("  %-20s %8.3f s %8.2f MB/s  (%zu tokens)\n", piece.first, t, static_cast<double>(s.size()) / 1e6 / t,
                ids.size());
  }

  // Training: 4,000 merges on tiny Shakespeare, incremental pair counts.
  const std::string shakespeare = detail::read_file(kSource + "/tests/data/tinyshakespeare.txt");
  BPETrainOptions options;
  options.vocab_size = 256 + 4000 + 1;
  BPETokenizer trained;
  const double train = best_of(1, [&] { trained = train_bpe(shakespeare, options); });
  std::printf("\ntraining: %zu merges on tiny Shakespeare (%.2f MB) in %.2f s\n", trained.merges().size(),
              static_cast<double>(shakespeare.size()) / 1e6, train);
  return 0;
}
