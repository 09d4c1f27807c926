// Private to store/: thin RAII over LMDB's C API. Values handed out as MDB_val point into the map
// and live only until their transaction ends or writes to that page.
#pragma once

#include <lmdb.h>

#include <cstring>
#include <string>
#include <string_view>

namespace duanka::store::detail {

inline MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline MDB_val Val(const void* data, size_t size) {
  return MDB_val{size, const_cast<void*>(data)};
}
inline std::string_view View(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// A transaction that aborts unless committed. Read transactions are not owned here (see the
// reader pool in store.cpp).
class WriteTxn {
 public:
  WriteTxn() = default;
  explicit WriteTxn(MDB_txn* txn) : txn_(txn) {}
  WriteTxn(WriteTxn&& o) noexcept : txn_(o.txn_) { o.txn_ = nullptr; }
  WriteTxn& operator=(WriteTxn&& o) noexcept {
    if (this != &o) {
      Abort();
      txn_ = o.txn_;
      o.txn_ = nullptr;
    }
    return *this;
  }
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;
  ~WriteTxn() { Abort(); }

  MDB_txn* get() const { return txn_; }
  int Commit() {
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;  // committed or not, the handle is freed
    return rc;
  }
  void Abort() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    txn_ = nullptr;
  }

 private:
  MDB_txn* txn_ = nullptr;
};

class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi) { rc_ = mdb_cursor_open(txn, dbi, &cursor_); }
  ~Cursor() {
    if (cursor_ != nullptr) mdb_cursor_close(cursor_);
  }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  int open_rc() const { return rc_; }
  MDB_cursor* get() const { return cursor_; }

 private:
  MDB_cursor* cursor_ = nullptr;
  int rc_ = 0;
};

// An LMDB failure as a C++ exception inside the store only: every public method catches it and
// returns kIo, and MDB_MAP_FULL is caught by the writer to grow the map and retry.
struct LmdbError {
  int rc;
  const char* what;
};

inline void Check(int rc, const char* what) {
  if (rc != MDB_SUCCESS) throw LmdbError{rc, what};
}

// MDB_NOTFOUND is an answer, not an error.
inline bool Found(int rc, const char* what) {
  if (rc == MDB_NOTFOUND) return false;
  Check(rc, what);
  return true;
}

}  // namespace duanka::store::detail
