// Notices commits to the store made by any process (duanka-admin reporting, an import, this
// daemon's own writer) without polling: inotify on the store's data file, which LMDB writes at
// every commit, and closes when a writing process lets go of it. Each burst of changes calls
// `changed` once on the io_context. A notice may come just before the commit it announces is
// visible to readers; the sync layer's periodic re-read of its heads covers that window.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first on GCC 12

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <filesystem>
#include <functional>
#include <memory>

#include "crypto/base/result.h"

namespace duanka::daemon {

class StoreWatch {
 public:
  StoreWatch(boost::asio::io_context& io, std::filesystem::path store_dir,
             std::function<void()> changed);
  ~StoreWatch();
  // kIo if inotify is unavailable or the store's data file cannot be watched.
  Status Start();
  void Stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace duanka::daemon
