#include "toadstool/train/data/imdb.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>

#include "toadstool/tensor/error.h"
#include "toadstool/train/text/tokenizer.h"

namespace toadstool::train {
namespace {

namespace fs = std::filesystem;

// A review longer than this is not a review (the longest of IMDB's is about
// 14 KB): refused before it is read, so a hostile member cannot fill memory.
constexpr int64_t kMaxReviewBytes = int64_t{1} << 20;

// The bytes of one split's reviews read so far, against read_imdb's
// max_bytes: a small archive of very many small members (a gzip bomb) is
// refused before it fills memory.
class ReviewBudget {
 public:
  ReviewBudget(int64_t max_bytes, const std::string& path, const std::string& split)
      : max_(max_bytes), path_(path), split_(split) {}
  void take(int64_t bytes) {
    used_ += bytes;
    TS_CHECK(used_ <= max_, "read_imdb: ", path_, ": the ", split_, " split's reviews exceed ",
             max_, " bytes (max_bytes; the official split holds about 33 MB)");
  }

 private:
  int64_t max_, used_ = 0;
  const std::string& path_;
  const std::string& split_;
};

// Where a member lies: the class folder and the file name, if its path is
// [<prefix>/]<split>/<pos|neg>/<name>.
struct Place {
  int64_t label;
  std::string name;
};
std::optional<Place> place_of(std::string member, const std::string& split) {
  while (!member.empty() && member.back() == '/') member.pop_back();  // a folder's name
  const fs::path p(member);
  const fs::path parent = p.parent_path();
  if (p.filename().empty() || parent.parent_path().filename() != split) return std::nullopt;
  const std::string folder = parent.filename().string();
  if (folder != "pos" && folder != "neg") return std::nullopt;
  return Place{folder == "pos" ? 1 : 0, p.filename().string()};
}

// The id and rating of a file name <id>_<rating>.txt.
bool parse_name(const std::string& name, int64_t& id, int64_t& rating) {
  const size_t underscore = name.find('_');
  if (underscore == std::string::npos || name.size() < 4 ||
      name.compare(name.size() - 4, 4, ".txt") != 0) {
    return false;
  }
  const char* begin = name.data();
  const char* mid = begin + underscore;
  const char* end = begin + name.size() - 4;
  const auto a = std::from_chars(begin, mid, id);
  const auto b = std::from_chars(mid + 1, end, rating);
  return a.ec == std::errc() && a.ptr == mid && b.ec == std::errc() && b.ptr == end && id >= 0 &&
         rating >= 1 && rating <= 10;
}

// Checks one member and makes its review; `where` is "<file>: <member>".
ImdbReview make_review(const Place& place, std::string text, const std::string& where) {
  ImdbReview review;
  TS_CHECK(parse_name(place.name, review.id, review.rating), "read_imdb: ", where,
           ": a review's name should be <id>_<rating>.txt with a rating in 1..10");
  const std::optional<size_t> bad = first_invalid_utf8(text);
  TS_CHECK(!bad.has_value(), "read_imdb: ", where, ": not valid UTF-8 (byte ", bad.value_or(0),
           " of ", text.size(), ")");
  review.label = place.label;
  review.text = std::move(text);
  return review;
}

// --- archives (libarchive) ----------------------------------------------------

using ArchivePtr = std::unique_ptr<archive, int (*)(archive*)>;

// The compressions users' copies have (gzip, bzip2, xz), where libarchive
// decodes them itself. Not archive_read_support_filter_all: that also
// registers filters that run an external program found on PATH (lrzip,
// lzop, grzip, ...; and gzip, bzip2 or xz themselves when libarchive was
// built without their library), so a file starting "LRZI" made read_imdb
// start `lrzip -d` (found in the fuzzing of issue 19). A data file must not run
// programs: a filter that would need one is left out, and such a file is
// refused as an unrecognised archive.
void support_filters(archive* a) {
  for (int (*support)(archive*) :
       {archive_read_support_filter_gzip, archive_read_support_filter_bzip2,
        archive_read_support_filter_xz}) {
    // ARCHIVE_WARN means "through an external program": tried on a probe,
    // because registering it cannot be undone.
    const ArchivePtr probe(archive_read_new(), archive_read_free);
    if (probe != nullptr && support(probe.get()) == ARCHIVE_OK) support(a);
  }
}

ArchivePtr open_archive(const std::string& path) {
  ArchivePtr a(archive_read_new(), archive_read_free);
  TS_CHECK(a != nullptr, "read_imdb: ", path, ": cannot start libarchive");
  support_filters(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  TS_CHECK(archive_read_open_filename(a.get(), path.c_str(), 1 << 16) == ARCHIVE_OK,
           "read_imdb: ", path, ": cannot read the archive: ", archive_error_string(a.get()));
  return a;
}

// Calls visit(member, entry) for every member of the archive at `path`;
// Error naming the file (and the member reached) when the archive is
// truncated or corrupt.
void for_each_member(
    const std::string& path,
    const std::function<void(archive*, archive_entry*, const std::string&)>& visit) {
  ArchivePtr a = open_archive(path);
  std::string last = "(its start)";
  for (;;) {
    archive_entry* entry = nullptr;
    const int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    TS_CHECK(rc == ARCHIVE_OK || rc == ARCHIVE_WARN, "read_imdb: ", path,
             ": corrupt or truncated archive after member ", last, ": ",
             archive_error_string(a.get()));
    const char* name = archive_entry_pathname(entry);
    last = name != nullptr ? name : "(unnamed)";
    visit(a.get(), entry, last);
  }
}

std::vector<ImdbReview> read_archive(const std::string& path, const std::string& split,
                                     ReviewBudget& budget) {
  std::vector<ImdbReview> reviews;
  for_each_member(path, [&](archive* a, archive_entry* entry, const std::string& member) {
    const std::optional<Place> place = place_of(member, split);
    if (!place) return;
    const std::string where = path + ": " + member;
    TS_CHECK(archive_entry_filetype(entry) == AE_IFREG, "read_imdb: ", where,
             ": not a regular file");
    const int64_t size = archive_entry_size(entry);
    TS_CHECK(size >= 0 && size <= kMaxReviewBytes, "read_imdb: ", where, ": ", size,
             " bytes, more than a review (", kMaxReviewBytes, " at most)");
    budget.take(size);
    std::string text(static_cast<size_t>(size), '\0');
    size_t done = 0;
    while (done < text.size()) {
      const la_ssize_t got = archive_read_data(a, text.data() + done, text.size() - done);
      TS_CHECK(got > 0, "read_imdb: ", where, ": corrupt or truncated archive: ",
               got < 0 ? archive_error_string(a) : "the member ends early");
      done += static_cast<size_t>(got);
    }
    reviews.push_back(make_review(*place, std::move(text), where));
  });
  return reviews;
}

// --- folders ----------------------------------------------------------------------

// aclImdb/ itself, or the folder holding it.
fs::path dataset_root(const fs::path& folder) {
  return fs::is_directory(folder / "aclImdb") ? folder / "aclImdb" : folder;
}

std::vector<ImdbReview> read_folder(const std::string& path, const std::string& split,
                                    ReviewBudget& budget) {
  const fs::path root = dataset_root(path);
  std::vector<ImdbReview> reviews;
  for (const char* folder : {"neg", "pos"}) {
    const fs::path dir = root / split / folder;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string member = fs::relative(entry.path(), root).string();
      const std::string where = path + ": " + member;
      TS_CHECK(entry.is_regular_file() && !entry.is_symlink(), "read_imdb: ", where,
               ": not a regular file");
      const auto size = static_cast<int64_t>(entry.file_size());
      TS_CHECK(size <= kMaxReviewBytes, "read_imdb: ", where, ": ", size,
               " bytes, more than a review (", kMaxReviewBytes, " at most)");
      budget.take(size);
      std::ifstream in(entry.path(), std::ios::binary);
      std::string text(static_cast<size_t>(size), '\0');
      in.read(text.data(), size);
      TS_CHECK(in.gcount() == size, "read_imdb: ", where, ": cannot read it");
      reviews.push_back(make_review(*place_of(member, split), std::move(text), where));
    }
  }
  return reviews;
}

}  // namespace

std::vector<ImdbReview> read_imdb(const std::string& path, const std::string& split,
                                  int64_t max_bytes) {
  TS_CHECK(split == "train" || split == "test",
           "read_imdb: split should be \"train\" or \"test\", got \"", split, "\"");
  TS_CHECK(max_bytes >= 0, "read_imdb: max_bytes must be >= 0, got ", max_bytes);
  std::error_code ec;
  TS_CHECK(fs::exists(path, ec), "read_imdb: ", path, " does not exist");
  ReviewBudget budget(max_bytes, path, split);
  std::vector<ImdbReview> reviews = fs::is_directory(path, ec) ? read_folder(path, split, budget)
                                                               : read_archive(path, split, budget);
  std::sort(reviews.begin(), reviews.end(), [](const ImdbReview& a, const ImdbReview& b) {
    return a.label != b.label ? a.label < b.label : a.id < b.id;
  });
  const auto positives = std::count_if(reviews.begin(), reviews.end(),
                                       [](const ImdbReview& r) { return r.label == 1; });
  TS_CHECK(!reviews.empty(), "read_imdb: ", path, " holds no reviews of the ", split,
           " split (expected members <split>/pos/<id>_<rating>.txt and <split>/neg/...)");
  TS_CHECK(positives > 0 && positives<static_cast<int64_t>(reviews.size()), "read_imdb: ", path,
                                      ": the ", split, " split has only ", positives> 0
               ? "positive"
               : "negative",
           " reviews (", reviews.size(), ")");
  return reviews;
}

bool imdb_has_split(const std::string& path, const std::string& split) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path root = dataset_root(path);
    return fs::is_directory(root / split / "pos", ec) || fs::is_directory(root / split / "neg", ec);
  }
  if (!fs::exists(path, ec)) return false;
  bool found = false;
  for_each_member(path, [&](archive*, archive_entry*, const std::string& member) {
    found = found || place_of(member, split).has_value();
  });
  return found;
}

std::vector<std::string> imdb_search_paths() {
  std::vector<std::string> paths = {"data/imdb/aclImdb_v1.tar.gz", "data/imdb/aclImdb",
                                    "../shared/data/imdb/aclImdb_train.tar.gz"};
  if (const char* home = std::getenv("HOME")) {
    paths.push_back(std::string(home) + "/.cache/toadstool/imdb/aclImdb_v1.tar.gz");
  }
  return paths;
}

std::string find_imdb(const std::string& explicit_path) {
  std::error_code ec;
  if (!explicit_path.empty()) {
    TS_CHECK(fs::exists(explicit_path, ec), "IMDB data: ", explicit_path, " does not exist");
    return explicit_path;
  }
  if (const char* env = std::getenv("TOADSTOOL_IMDB"); env != nullptr && *env != '\0') {
    TS_CHECK(fs::exists(env, ec), "IMDB data: $TOADSTOOL_IMDB is ", env, ", which does not exist");
    return env;
  }
  for (const std::string& path : imdb_search_paths()) {
    if (fs::exists(path, ec)) return path;
  }
  return "";
}

}  // namespace toadstool::train
