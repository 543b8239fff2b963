#pragma once
// The Large Movie Review Dataset (IMDB, Maas et al. 2011) in the forms a
// user has it: the official aclImdb_v1.tar.gz (train and test), the
// train-only archive of this project's shared data, or an extracted aclImdb/
// folder. Archives are read as a stream (libarchive: gzip, and any tar
// flavour), nothing is extracted to disk. docs/imdb.md has the details.
//
//   const std::string path = find_imdb();             // or a user's --data
//   std::vector<ImdbReview> train = read_imdb(path, "train");
#include <cstdint>
#include <string>
#include <vector>

namespace toadstool::train {

struct ImdbReview {
  std::string text;    // valid UTF-8, as in the file
  int64_t label = 0;   // 1 for pos/, 0 for neg/
  int64_t rating = 0;  // from the file name <id>_<rating>.txt: 7..10 pos, 1..4 neg
  int64_t id = 0;
};

// The reviews of `split` ("train" or "test"): every member
// [<prefix>/]<split>/{pos,neg}/<id>_<rating>.txt of the archive or folder at
// `path` (a folder may be aclImdb/ itself or the folder holding it). Ordered
// by label then id, whatever the archive's order. Errors name the file and
// the member: a truncated or corrupt archive, a member there that is not a
// regular file or not named <id>_<rating>.txt, a review that is not valid
// UTF-8 (refused rather than altered: the reviews of the official data are
// all valid), no reviews for the split, or one class only; and reviews of
// more than `max_bytes` in all (512 MiB by default: the official split holds
// about 33 MB), refused as they are reached, before memory fills.
std::vector<ImdbReview> read_imdb(const std::string& path, const std::string& split,
                                  int64_t max_bytes = int64_t{512} << 20);

// True when `path` holds reviews of `split` (a quick look: for an archive, a
// scan of its member names).
bool imdb_has_split(const std::string& path, const std::string& split);

// Where the data is: `explicit_path` when not empty (Error if it does not
// exist), else $TOADSTOOL_IMDB, else the first that exists of the usual
// places (imdb_search_paths()); "" when none does.
std::string find_imdb(const std::string& explicit_path = "");
std::vector<std::string> imdb_search_paths();

}  // namespace toadstool::train
