#include "node/daemon/store_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>

namespace duanka::daemon {

namespace asio = boost::asio;

struct StoreWatch::Impl : std::enable_shared_from_this<StoreWatch::Impl> {
  Impl(asio::io_context& io, std::filesystem::path dir, std::function<void()> f)
      : descriptor(io), store_dir(std::move(dir)), changed(std::move(f)) {}
  asio::posix::stream_descriptor descriptor;
  std::filesystem::path store_dir;
  std::function<void()> changed;
  bool stopped = false;

  asio::awaitable<void> Loop() {
    auto self = shared_from_this();
    // Many events per read; their content does not matter, only that a commit happened.
    alignas(inotify_event) char buffer[16 * (sizeof(inotify_event) + NAME_MAX + 1)];
    while (!stopped) {
      boost::system::error_code ec;
      co_await descriptor.async_read_some(asio::buffer(buffer),
                                          asio::redirect_error(asio::use_awaitable, ec));
      if (ec || stopped) co_return;
      changed();
    }
  }
};

StoreWatch::StoreWatch(asio::io_context& io, std::filesystem::path store_dir,
                       std::function<void()> changed)
    : impl_(std::make_shared<Impl>(io, std::move(store_dir), std::move(changed))) {}

StoreWatch::~StoreWatch() {
  Stop();
}

Status StoreWatch::Start() {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    return MakeError(ErrorKind::kIo, std::string("cannot start inotify: ") + std::strerror(errno));
  }
  std::filesystem::path data = impl_->store_dir / "data.mdb";
  // IN_MODIFY comes with each write of a commit, but LMDB makes the commit visible to readers
  // (the txnid in lock.mdb's shared memory) only after its last write to data.mdb, so a re-read
  // on the last IN_MODIFY can still see the old state. IN_CLOSE_WRITE, when a writing process
  // (duanka-admin) closes the store, comes after its commits are visible.
  if (::inotify_add_watch(fd, data.c_str(), IN_MODIFY | IN_CLOSE_WRITE) < 0) {
    int err = errno;
    ::close(fd);
    return MakeError(ErrorKind::kIo, "cannot watch " + data.string() + ": " + std::strerror(err));
  }
  impl_->descriptor.assign(fd);
  asio::co_spawn(impl_->descriptor.get_executor(), impl_->Loop(), asio::detached);
  return Ok();
}

void StoreWatch::Stop() {
  impl_->stopped = true;
  asio::post(impl_->descriptor.get_executor(), [impl = impl_] {
    boost::system::error_code ec;
    impl->descriptor.close(ec);
  });
}

}  // namespace duanka::daemon
