// make-corpus for fuzz_imdb_archive: tiny archives in the layout of the
// official aclImdb_v1.tar.gz (a gzip-compressed GNU tar of aclImdb/...),
// and ones that break it. The tar is written here byte by byte (ustar
// headers), so that the broken members (links, bad sizes) are ours to make.
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "corpus_files.h"

namespace toadstool::fuzz {
namespace {

struct TarMember {
  std::string path;
  std::string bytes;
  char type = '0';  // '0' file, '5' folder, '2' symbolic link (to `bytes`)
};

// An octal field of `width` bytes: digits, then a NUL.
void put_octal(std::string& header, size_t at, size_t width, unsigned long long value) {
  std::snprintf(header.data() + at, width, "%0*llo", static_cast<int>(width - 1), value);
}

// `text` over the header's bytes from `at` on (the size stays 512).
void put_text(std::string& header, size_t at, const std::string& text) {
  std::copy(text.begin(), text.end(), header.begin() + static_cast<std::ptrdiff_t>(at));
}

// A ustar archive of `members`, ending with the two zero blocks.
std::string tar_bytes(const std::vector<TarMember>& members) {
  std::string out;
  for (const TarMember& m : members) {
    std::string header(512, '\0');
    put_text(header, 0, m.path);  // names up to 100 bytes
    put_octal(header, 100, 8, m.type == '5' ? 0755 : 0644);
    put_octal(header, 108, 8, 1000);
    put_octal(header, 116, 8, 1000);
    const size_t data_size = m.type == '0' ? m.bytes.size() : 0;
    put_octal(header, 124, 12, data_size);
    put_octal(header, 136, 12, 1303171200);  // 2011-04-19, when aclImdb was made
    header[156] = m.type;
    if (m.type == '2') put_text(header, 157, m.bytes);
    put_text(header, 257, "ustar");  // "ustar\0" then version "00"
    put_text(header, 263, "00");
    // The checksum: the header's bytes summed with the field read as spaces.
    put_text(header, 148, "        ");
    unsigned sum = 0;
    for (unsigned char c : header) sum += c;
    std::snprintf(header.data() + 148, 8, "%06o", sum);
    out += header;
    if (data_size > 0) out += m.bytes + std::string((512 - data_size % 512) % 512, '\0');
  }
  return out + std::string(1024, '\0');
}

TarMember folder(const std::string& path) { return {path, "", '5'}; }
TarMember file(const std::string& path, const std::string& text) { return {path, text, '0'}; }

// Two reviews a class, as the official archive lays them out (with its
// README and folders), texts with the "<br />" breaks and UTF-8 the real
// ones have.
std::vector<TarMember> official(const std::string& split) {
  const std::string root = "aclImdb/" + split;
  return {
      folder("aclImdb/"),
      file("aclImdb/README", "Large Movie Review Dataset v1.0\n"),
      folder(root + "/"),
      folder(root + "/neg/"),
      file(root + "/neg/0_3.txt", "Dull.<br /><br />I didn't like it... at all!!"),
      file(root + "/neg/1_1.txt", "The worst film I have seen, na\xc3\xafve and slow."),
      folder(root + "/pos/"),
      file(root + "/pos/0_9.txt", "A caf\xc3\xa9 classic: \xe2\x98\x85\xe2\x98\x85\xe2\x98\x85!"),
      file(root + "/pos/1_10.txt", "Loved it.<BR>See it twice.")};
}

}  // namespace

void make_imdb_archive_corpus(const std::filesystem::path& dir) {
  std::vector<TarMember> both = official("train");
  for (TarMember& m : official("test")) {
    if (m.path.starts_with("aclImdb/test")) both.push_back(m);
  }
  const std::string full = gzip_bytes(tar_bytes(both));
  write_corpus_file(dir, "valid-official.tar.gz", full);
  // The reviews alone, no aclImdb/ prefix, not compressed.
  write_corpus_file(
      dir, "valid-plain.tar",
      tar_bytes({file("train/neg/5_4.txt", "Meh."), file("train/pos/7_7.txt", "Fine")}));

  write_corpus_file(dir, "invalid-truncated.tar.gz", full.substr(0, full.size() / 2));
  write_corpus_file(dir, "invalid-not-an-archive.tar.gz", "aclImdb/train/pos/0_9.txt\n");
  // Reviews, but not under <split>/<pos|neg>/.
  write_corpus_file(dir, "invalid-wrong-layout.tar.gz",
                    gzip_bytes(tar_bytes({file("aclImdb/pos/0_9.txt", "Good."),
                                          file("aclImdb/neg/0_2.txt", "Bad.")})));
  // One class only.
  write_corpus_file(dir, "invalid-one-class.tar.gz",
                    gzip_bytes(tar_bytes({file("aclImdb/train/pos/0_9.txt", "Good.")})));
  // Names that are not <id>_<rating>.txt with a rating in 1..10.
  for (const auto& [name, member] :
       {std::pair{"invalid-name.tar.gz", "aclImdb/train/pos/review.txt"},
        std::pair{"invalid-rating-11.tar.gz", "aclImdb/train/pos/0_11.txt"},
        std::pair{"invalid-id-negative.tar.gz", "aclImdb/train/pos/-1_9.txt"}}) {
    write_corpus_file(
        dir, name,
        gzip_bytes(tar_bytes({file(member, "Good."), file("aclImdb/train/neg/0_2.txt", "Bad.")})));
  }
  // Regression: lrzip's magic, which libarchive's filter_all decoded by
  // running `lrzip -d` (test_imdb.cpp checks that no program runs).
  write_corpus_file(dir, "invalid-lrzip.tar.lrz",
                    std::string("LRZI\0\6", 6) + std::string(18, '\0'));
  // A review that is not UTF-8, and one that is a link.
  write_corpus_file(dir, "invalid-not-utf8.tar.gz",
                    gzip_bytes(tar_bytes({file("aclImdb/train/pos/0_9.txt", "Caf\xe9"),
                                          file("aclImdb/train/neg/0_2.txt", "Bad.")})));
  write_corpus_file(dir, "invalid-symlink.tar.gz",
                    gzip_bytes(tar_bytes({{"aclImdb/train/pos/0_9.txt", "/etc/passwd", '2'},
                                          file("aclImdb/train/neg/0_2.txt", "Bad.")})));
}

}  // namespace toadstool::fuzz
