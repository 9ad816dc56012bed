// tests/support/cli_process.h: runs the cstudio CLI (or another test binary) as a child process
// for end-to-end tests. A run that has not finished by the timeout is killed and reported as
// code -1 with "timed out" on its stderr, never mistaken for a success.
#pragma once

#include <QByteArray>
#include <QProcess>
#include <QString>
#include <QStringList>

namespace cs_test {

struct CliOut {
  int code = -1;
  QByteArray out, err;
};

inline CliOut runProcess(const QString& exe, const QStringList& args, int timeoutMs) {
  QProcess p;
  p.start(exe, args);
  if (!p.waitForStarted(30000)) return {-1, {}, ("cannot start " + exe + ": " + p.errorString()).toUtf8()};
  if (!p.waitForFinished(timeoutMs)) {
    p.kill();
    p.waitForFinished(5000);
    return {-1, p.readAllStandardOutput(),
            p.readAllStandardError() + "\n[test] " + exe.toUtf8() + " timed out after " +
                QByteArray::number(timeoutMs / 1000) + " s"};
  }
  return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
          p.readAllStandardError()};
}

}  // namespace cs_test
