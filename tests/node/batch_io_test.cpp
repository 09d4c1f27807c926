// node/common's LineReader and Progress, which `duanka lookup --batch` and `duanka-admin report
// --batch` both read and draw through: line limits that do not depend on how the input arrives,
// a slow pipe, a non-blocking descriptor and a failing read; a bar only when due.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "node/common/line_reader.h"
#include "node/common/progress.h"

namespace duanka::node {
namespace {

using namespace std::chrono_literals;
using Status = LineReader::Status;

// Idle timeouts short enough to keep the tests fast, long enough that a write already made is
// seen before they expire.
constexpr std::chrono::milliseconds kIdleAfter{50};

class Pipe {
 public:
  Pipe() { EXPECT_EQ(::pipe(fds_), 0); }
  ~Pipe() {
    CloseWriter();
    ::close(fds_[0]);
  }
  int reader() const { return fds_[0]; }
  void Write(const std::string& data) {
    ASSERT_EQ(::write(fds_[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  void CloseWriter() {
    if (fds_[1] >= 0) ::close(fds_[1]);
    fds_[1] = -1;
  }

 private:
  int fds_[2] = {-1, -1};
};

struct Read {
  Status status;
  std::string line;
};

Read NextOf(LineReader& r) {
  std::string_view line;
  Status s = r.Next(line);
  return {s, s == Status::kLine ? std::string(line) : std::string()};
}

// Every line of `input`, written in one piece and then closed.
std::vector<Read> ReadAll(const std::string& input) {
  // A file rather than a pipe: inputs here may exceed a pipe's buffer.
  char path[] = "/tmp/batch_io_testXXXXXX";
  int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  ::unlink(path);
  EXPECT_EQ(::write(fd, input.data(), input.size()), static_cast<ssize_t>(input.size()));
  ::lseek(fd, 0, SEEK_SET);
  LineReader r(fd);
  std::vector<Read> out;
  for (;;) {
    Read next = NextOf(r);
    if (next.status == Status::kEnd || next.status == Status::kError) break;
    out.push_back(next);
  }
  EXPECT_EQ(r.bytes_read(), input.size());
  ::close(fd);
  return out;
}

TEST(LineReaderTest, LinesCarriageReturnsAndALastLineWithoutNewline) {
  std::vector<Read> lines = ReadAll("a,1\r\n\nb,2\nc,3");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].line, "a,1");
  EXPECT_EQ(lines[1].line, "");
  EXPECT_EQ(lines[2].line, "b,2");
  EXPECT_EQ(lines[3].line, "c,3");
  for (const Read& r : lines) EXPECT_EQ(r.status, Status::kLine);
}

TEST(LineReaderTest, TheLimitCountsATrailingCarriageReturn) {
  const std::string longest(kMaxBatchLineBytes, 'x');
  std::vector<Read> lines = ReadAll(longest + "\n" + longest + "y\n" + longest + "\r\nz\n");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].status, Status::kLine);
  EXPECT_EQ(lines[0].line, longest);
  EXPECT_EQ(lines[1].status, Status::kTooLong);
  EXPECT_EQ(lines[2].status, Status::kTooLong);
  EXPECT_EQ(lines[3].line, "z");
}

TEST(LineReaderTest, AHugeLineIsSkippedAndTheNextOneRead) {
  const std::string huge(3 * kReadBlockBytes + 17, '1');
  std::vector<Read> lines = ReadAll("a\n" + huge + "\nb\n" + huge);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].line, "a");
  EXPECT_EQ(lines[1].status, Status::kTooLong);
  EXPECT_EQ(lines[2].line, "b");
  EXPECT_EQ(lines[3].status, Status::kTooLong);  // the last, without '\n'
}

TEST(LineReaderTest, ALineSplitAcrossReadsMeetsTheSameLimit) {
  // The '\r' arrives in one read and the '\n' in the next: the line is still one byte too long,
  // exactly as when it arrives whole (above).
  Pipe pipe;
  LineReader r(pipe.reader(), kIdleAfter);
  pipe.Write(std::string(kMaxBatchLineBytes, 'x') + "\r");
  EXPECT_EQ(NextOf(r).status, Status::kIdle);
  pipe.Write("\nok\r");
  EXPECT_EQ(NextOf(r).status, Status::kTooLong);
  EXPECT_EQ(NextOf(r).status, Status::kIdle);  // "ok\r" waits for its end
  pipe.Write("\n");
  Read ok = NextOf(r);
  EXPECT_EQ(ok.status, Status::kLine);
  EXPECT_EQ(ok.line, "ok");
  pipe.CloseWriter();
  EXPECT_EQ(NextOf(r).status, Status::kEnd);
  EXPECT_EQ(r.bytes_read(), kMaxBatchLineBytes + 2 + 4);
}

TEST(LineReaderTest, WithoutIdleAfterASlowPipeIsWaitedFor) {
  Pipe pipe;
  LineReader r(pipe.reader());
  std::thread writer([&] {
    std::this_thread::sleep_for(2 * kIdleAfter);
    pipe.Write("late\n");
    pipe.CloseWriter();
  });
  Read late = NextOf(r);
  writer.join();
  EXPECT_EQ(late.status, Status::kLine);
  EXPECT_EQ(late.line, "late");
  EXPECT_EQ(NextOf(r).status, Status::kEnd);
}

TEST(LineReaderTest, ANonBlockingDescriptorIsWaitedForNotAnError) {
  Pipe pipe;
  ASSERT_EQ(::fcntl(pipe.reader(), F_SETFL, ::fcntl(pipe.reader(), F_GETFL) | O_NONBLOCK), 0);
  LineReader r(pipe.reader());
  std::thread writer([&] {
    std::this_thread::sleep_for(2 * kIdleAfter);
    pipe.Write("later\n");
    pipe.CloseWriter();
  });
  Read later = NextOf(r);
  writer.join();
  EXPECT_EQ(later.status, Status::kLine);
  EXPECT_EQ(later.line, "later");
  EXPECT_EQ(NextOf(r).status, Status::kEnd);
}

TEST(LineReaderTest, AFailedReadIsReportedWithItsErrno) {
  int dir = ::open("/", O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  LineReader r(dir);
  EXPECT_EQ(NextOf(r).status, Status::kError);
  EXPECT_EQ(r.errno_value(), EISDIR);
  EXPECT_EQ(NextOf(r).status, Status::kError);  // and stays failed
  ::close(dir);
}

// Captures what the process writes to stderr while it lives.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    char path[] = "/tmp/batch_io_stderrXXXXXX";
    file_ = ::mkstemp(path);
    ::unlink(path);
    saved_ = ::dup(2);
    ::dup2(file_, 2);
  }
  ~StderrCapture() {
    Restore();
    ::close(file_);
  }
  std::string Text() {
    Restore();
    std::string out;
    char buf[4096];
    ::lseek(file_, 0, SEEK_SET);
    for (ssize_t n; (n = ::read(file_, buf, sizeof buf)) > 0;) out.append(buf, n);
    return out;
  }

 private:
  void Restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  int file_ = -1;
  int saved_ = -1;
};

TEST(ProgressTest, DrawsTheBarOnlyWhenDueAndErasesIt) {
  StderrCapture capture;
  int asked = 0;
  auto describe = [&](double seconds) {
    ++asked;
    EXPECT_GT(seconds, 0.0);
    return std::string("12 lines");
  };
  {
    Progress progress(/*enabled=*/true, /*total_bytes=*/100);
    progress.Update(10, describe);  // too soon after the start
    EXPECT_EQ(asked, 0);
    std::this_thread::sleep_for(250ms);
    progress.Update(50, describe);
    progress.Update(60, describe);  // too soon after that draw
    EXPECT_EQ(asked, 1);
  }  // the destructor erases the bar
  EXPECT_EQ(capture.Text(), "\r[############------------]  50%  12 lines\033[K\r\033[K");
}

TEST(ProgressTest, DisabledOrWithoutASizeDrawsNoBar) {
  StderrCapture capture;
  int asked = 0;
  auto describe = [&](double) {
    ++asked;
    return std::string("7 lines");
  };
  {
    Progress off(/*enabled=*/false, /*total_bytes=*/100);
    Progress pipe(/*enabled=*/true, /*total_bytes=*/0);
    std::this_thread::sleep_for(250ms);
    off.Update(50, describe);
    EXPECT_EQ(asked, 0);
    pipe.Update(50, describe);
    EXPECT_EQ(asked, 1);
    pipe.Clear();
    pipe.Clear();  // nothing drawn since: nothing to erase
  }
  EXPECT_EQ(capture.Text(), "\r7 lines\033[K\r\033[K");
}

}  // namespace
}  // namespace duanka::node
