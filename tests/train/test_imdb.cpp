// The IMDB reader (train/data/imdb.h) on small archives and folders the
// tests make: the official layout, the train-only one, an extracted folder,
// and every bad input the reader promises an Error for.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "test_util.h"
#include "toadstool/toadstool.h"

namespace toadstool::testing {
namespace {

namespace fs = std::filesystem;
using train::ImdbReview;

struct Member {
  std::string path, text;
  bool folder = false;
};

const std::vector<Member> kOfficial = {
    {"aclImdb/README", "Large Movie Review Dataset v1.0"},
    {"aclImdb/train/pos/", "", true},
    {"aclImdb/train/pos/10_9.txt", "Great <br />film!"},
    {"aclImdb/train/pos/2_7.txt", "Caf\xc3\xa9 scene was good."},
    {"aclImdb/train/neg/0_2.txt", "Dull."},
    {"aclImdb/train/unsup/0_0.txt", "not labelled"},
    {"aclImdb/train/labeledBow.feat", "0:9 1:1"},
    {"aclImdb/test/pos/0_10.txt", "Loved it"},
    {"aclImdb/test/neg/5_1.txt", "Hated it"},
};

// A gzip-compressed tar (pax) archive of `members`.
void write_archive(const std::string& path, const std::vector<Member>& members) {
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const Member& m : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.path.c_str());
    archive_entry_set_filetype(e, m.folder ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(m.text.size()));
    archive_write_header(a, e);
    if (!m.text.empty()) archive_write_data(a, m.text.data(), m.text.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

void write_folder(const std::string& root, const std::vector<Member>& members) {
  for (const Member& m : members) {
    const fs::path p = fs::path(root) / m.path;
    fs::create_directories(m.folder ? p : p.parent_path());
    if (!m.folder) std::ofstream(p, std::ios::binary) << m.text;
  }
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void expect_official_train(const std::vector<ImdbReview>& reviews) {
  ASSERT_EQ(reviews.size(), 3u);
  // Negative first, then by id, whatever the archive's order.
  EXPECT_EQ(reviews[0].text, "Dull.");
  EXPECT_EQ(reviews[0].label, 0);
  EXPECT_EQ(reviews[0].rating, 2);
  EXPECT_EQ(reviews[1].id, 2);
  EXPECT_EQ(reviews[1].rating, 7);
  EXPECT_EQ(reviews[1].text, "Caf\xc3\xa9 scene was good.");
  EXPECT_EQ(reviews[2].id, 10);
  EXPECT_EQ(reviews[2].label, 1);
  EXPECT_EQ(reviews[2].text, "Great <br />film!");
}

TEST(Imdb, ReadsTheArchiveWithoutExtractingIt) {
  TempDir dir;
  const std::string path = dir.file("aclImdb_v1.tar.gz");
  write_archive(path, kOfficial);
  expect_official_train(train::read_imdb(path, "train"));
  const auto test = train::read_imdb(path, "test");
  ASSERT_EQ(test.size(), 2u);
  EXPECT_EQ(test[1].rating, 10);
  EXPECT_TRUE(train::imdb_has_split(path, "test"));
  EXPECT_EQ(dir.files(), std::vector<std::string>{"aclImdb_v1.tar.gz"});
}

TEST(Imdb, ReadsAnExtractedFolderOrTheFolderHoldingIt) {
  TempDir dir;
  write_folder(dir.path(), kOfficial);
  expect_official_train(train::read_imdb(dir.path(), "train"));
  expect_official_train(train::read_imdb(dir.file("aclImdb"), "train"));
  EXPECT_TRUE(train::imdb_has_split(dir.path(), "test"));
  fs::remove_all(dir.file("aclImdb/test"));
  EXPECT_FALSE(train::imdb_has_split(dir.path(), "test"));
  EXPECT_ERROR(train::read_imdb(dir.path(), "test"), "holds no reviews of the test split");
}

// A split's reviews beyond max_bytes in all (a gzip bomb of many small
// members) are an Error as the limit is reached, from an archive or a
// folder. The train split of kOfficial holds 5 + 21 + 17 = 43 bytes.
TEST(Imdb, ReviewsBeyondMaxBytesAreAnError) {
  TempDir dir;
  const std::string archive = dir.file("aclImdb_v1.tar.gz");
  write_archive(archive, kOfficial);
  write_folder(dir.file("extracted"), kOfficial);
  for (const std::string& path : {archive, dir.file("extracted")}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(train::read_imdb(path, "train", 43).size(), 3u);
    EXPECT_ERROR(train::read_imdb(path, "train", 42),
                 "the train split's reviews exceed 42 bytes (max_bytes");
  }
  EXPECT_ERROR(train::read_imdb(archive, "train", -1), "read_imdb: max_bytes must be >= 0");
}

TEST(Imdb, BadArchivesAreErrorsNamingTheFileAndMember) {
  TempDir dir;
  const std::string good = dir.file("good.tar.gz");
  write_archive(good, kOfficial);
  const std::string bytes = read_bytes(good);
  const auto variant = [&](const std::string& name, const std::string& content) {
    std::string path = dir.file(name);
    std::ofstream(path, std::ios::binary) << content;
    return path;
  };
  EXPECT_ERROR(train::read_imdb(variant("cut.tar.gz", bytes.substr(0, bytes.size() / 2)), "train"),
               (std::vector<std::string>{"read_imdb", "cut.tar.gz", "truncated"}));
  std::string flipped = bytes;
  for (size_t i = 40; i < flipped.size() - 20; i += 7) flipped[i] = static_cast<char>(~flipped[i]);
  EXPECT_ERROR(train::read_imdb(variant("flipped.tar.gz", flipped), "train"), "flipped.tar.gz");
  EXPECT_ERROR(train::read_imdb(variant("text.tar.gz", "just text"), "train"), "text.tar.gz");
  EXPECT_ERROR(train::read_imdb(dir.file("missing.tar.gz"), "train"), "does not exist");
  EXPECT_ERROR(train::read_imdb(good, "unsup"), "split should be");

  const auto archive_of = [&](const std::string& name, const std::vector<Member>& members) {
    write_archive(dir.file(name), members);
    return dir.file(name);
  };
  const Member neg{"aclImdb/train/neg/0_1.txt", "Bad."};
  EXPECT_ERROR(
      train::read_imdb(archive_of("dir.tar.gz", {neg, {"aclImdb/train/pos/1_8.txt", "", true}}),
                       "train"),
      (std::vector<std::string>{"dir.tar.gz: aclImdb/train/pos/1_8.txt", "not a regular file"}));
  EXPECT_ERROR(
      train::read_imdb(archive_of("latin1.tar.gz", {neg, {"aclImdb/train/pos/1_8.txt", "caf\xe9"}}),
                       "train"),
      (std::vector<std::string>{"aclImdb/train/pos/1_8.txt", "not valid UTF-8 (byte 3"}));
  EXPECT_ERROR(train::read_imdb(
                   archive_of("name.tar.gz", {neg, {"aclImdb/train/pos/great.txt", "x"}}), "train"),
               (std::vector<std::string>{"aclImdb/train/pos/great.txt", "<id>_<rating>.txt"}));
  EXPECT_ERROR(train::read_imdb(archive_of("empty.tar.gz", {{"aclImdb/README", "hi"}}), "train"),
               "holds no reviews of the train split");
  EXPECT_ERROR(train::read_imdb(archive_of("neg.tar.gz", {neg}), "train"),
               "has only negative reviews (1)");
}

// A compression that only an external program decodes is refused, and no
// program runs: an `lrzip` first on PATH that leaves a mark is not called
// (with archive_read_support_filter_all, a file starting "LRZI" ran
// `lrzip -d`: issue 19's fuzzing).
TEST(Imdb, NeverRunsAnExternalDecompressor) {
  TempDir dir;
  const std::string mark = dir.file("ran");
  const std::string fake = dir.file("lrzip");
  std::ofstream(fake) << "#!/bin/sh\ntouch '" << mark << "'\ncat >/dev/null\n";
  fs::permissions(fake, fs::perms::owner_all);
  const std::string path = dir.file("reviews.tar.lrz");
  // lrzip's magic and version 0.6, as libarchive's lrzip filter bids on it.
  std::ofstream(path, std::ios::binary) << std::string("LRZI\0\6", 6) << std::string(18, '\0');
  const char* old = std::getenv("PATH");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("PATH", dir.path().c_str(), 1);
  EXPECT_ERROR(train::read_imdb(path, "train"),
               (std::vector<std::string>{"reviews.tar.lrz", "cannot read the archive"}));
  EXPECT_ERROR(train::imdb_has_split(path, "train"), "reviews.tar.lrz");
  ::setenv("PATH", saved.c_str(), 1);
  EXPECT_FALSE(fs::exists(mark)) << "read_imdb ran " << fake;
}

TEST(Imdb, BadFoldersAreErrors) {
  TempDir dir;
  write_folder(dir.path(), {{"aclImdb/train/pos/0_9.txt", "Good."}});
  EXPECT_ERROR(train::read_imdb(dir.path(), "train"), "has only positive reviews");
  fs::create_directories(dir.file("aclImdb/train/neg/3_2.txt"));
  EXPECT_ERROR(train::read_imdb(dir.path(), "train"),
               (std::vector<std::string>{"train/neg/3_2.txt", "not a regular file"}));
}

TEST(Imdb, FindsTheDataFromTheFlagTheEnvironmentOrTheUsualPlaces) {
  TempDir dir;
  const std::string path = dir.file("a.tar.gz");
  write_archive(path, kOfficial);
  EXPECT_EQ(train::find_imdb(path), path);
  EXPECT_ERROR(train::find_imdb(dir.file("none")), "does not exist");
  const char* old = std::getenv("TOADSTOOL_IMDB");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("TOADSTOOL_IMDB", path.c_str(), 1);
  EXPECT_EQ(train::find_imdb(), path);
  ::setenv("TOADSTOOL_IMDB", dir.file("none").c_str(), 1);
  EXPECT_ERROR(train::find_imdb(), "$TOADSTOOL_IMDB");
  if (old != nullptr) {
    ::setenv("TOADSTOOL_IMDB", saved.c_str(), 1);
  } else {
    ::unsetenv("TOADSTOOL_IMDB");
  }
  EXPECT_FALSE(train::imdb_search_paths().empty());
}

}  // namespace
}  // namespace toadstool::testing
