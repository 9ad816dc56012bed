// The reconstruction engine (compression/torch/reconstruct.h): AdaRound rounding on a
// single Linear with correlated random inputs beats round-to-nearest at 4 bits, ends
// (near) binary, learns activation steps, and honours cancellation.
#include <torch/torch.h>

#include <QElapsedTimer>
#include <QtTest/QtTest>

#include "compression/torch/reconstruct.h"

using namespace cs;
using namespace cs::detail;

namespace {

// Correlated inputs (a random mixing of iid normals): with an anisotropic input
// covariance nearest rounding is not output-optimal, which AdaRound exploits.
torch::Tensor correlatedInputs(int64_t rows, int64_t dim, const torch::Tensor& mix) {
  return torch::matmul(torch::randn({rows, dim}), mix);
}

double mse(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).pow(2).mean().item<double>(); }

}  // namespace

class TestReconstruct : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { torch::manual_seed(0); }

  void rectifiedSigmoidAndInit() {
    auto a = torch::tensor({-100.0f, 0.0f, 100.0f});
    QVERIFY(torch::allclose(adaRoundH(a), torch::tensor({0.0f, 0.5f, 1.0f})));
    UniformQuantizer q;
    q.bits = 4;
    q.scale = torch::tensor(0.5f);
    q.zero = torch::tensor(8.0f);
    auto w = torch::tensor({0.1f, 0.2f, 0.6f, -0.35f});  // fractions of w/0.5: 0.2, 0.4, 0.2, 0.3
    auto h = adaRoundH(adaRoundInit(w, q));
    QVERIFY2(torch::allclose(h, torch::tensor({0.2f, 0.4f, 0.2f, 0.3f}), 1e-4, 1e-5), "h(alpha0) = frac(W/s)");
  }

  void linearBeatsNearestAt4Bits() {
    const int64_t in = 64, out = 32;
    auto mix = torch::randn({in, in}) / std::sqrt(double(in));
    mix += torch::eye(in) * 0.2;
    auto W = torch::randn({out, in}) * 0.2;
    auto bias = torch::randn({out}) * 0.1;
    auto X = correlatedInputs(2048, in, mix), Xt = correlatedInputs(2048, in, mix);
    auto Y = torch::linear(X, W, bias), Yt = torch::linear(Xt, W, bias);
    auto wq = weightQuantizer(W, 4, false, true);  // per output channel, min-max
    auto rtn = fakeQuant(W, wq);
    const double mseRtn = mse(torch::linear(X, rtn, bias), Y), mseRtnTest = mse(torch::linear(Xt, rtn, bias), Yt);

    ReconConfig cfg;
    cfg.iters = 400;
    cfg.batchRows = 512;
    // With the default lambda 0.01 only ~59 % of h(alpha) end within 0.01 of 0/1 after 400
    // steps (MSE 0.0208 -> 0.0138); a stronger regularizer binarizes more and also lowers the MSE
    // here (lambda 1: 90 %, 0.0106; lambda 5: 93 %, 0.0107).
    cfg.lambda = 5.0;
    ReconForward f = [&](const ReconState& s, const torch::Tensor& x) { return torch::linear(x, s.weight(0), bias); };
    JobContext job;
    int reports = 0;
    job.setProgress([&](double, const std::string&) { ++reports; });
    QElapsedTimer t;
    t.start();
    auto r = reconstruct({{W, wq}}, {}, f, X, Y, cfg, &job);
    const double sec = t.elapsed() / 1000.0;
    QCOMPARE(int(r.weights.size()), 1);
    // The returned weight is on the quantizer's grid and independently reproduces the MSE.
    auto codes = r.weights[0] / wq.scale.view({-1, 1}) + wq.zero.view({-1, 1});
    QVERIFY((codes - codes.round()).abs().max().item<double>() < 1e-3);
    QVERIFY(codes.round().min().item<double>() >= 0 && codes.round().max().item<double>() <= 15);
    const double mseRec = mse(torch::linear(X, r.weights[0], bias), Y);
    const double mseRecTest = mse(torch::linear(Xt, r.weights[0], bias), Yt);
    qInfo("W4 Linear %ldx%ld: output MSE nearest %.4g -> AdaRound %.4g (held-out %.4g -> %.4g); binary %.4f, "
          "flipped %.3f, %d steps in %.2f s",
          long(out), long(in), mseRtn, mseRec, mseRtnTest, mseRecTest, r.binaryFraction, r.flipFraction, r.iters, sec);
    QVERIFY(std::abs(r.mseNearest - mseRtn) <= 0.02 * mseRtn);  // engine's nearest ~ RTN (round-half ties differ)
    QVERIFY(std::abs(r.mseFinal - mseRec) <= 1e-3 * mseRec);
    QVERIFY2(r.kept, "learned rounding must beat nearest rounding on this data");
    QVERIFY2(mseRec < 0.9 * mseRtn, "AdaRound must strictly reduce the output MSE versus RTN (by more than 10 %)");
    QVERIFY2(mseRecTest < mseRtnTest, "and generalize to held-out inputs");
    QVERIFY2(r.binaryFraction > 0.9, "the annealed regularizer drives h(alpha) to 0/1");
    QVERIFY(r.flipFraction > 0.0);
    QVERIFY(reports > 0);
  }

  void learnsActivationStep() {
    const int64_t in = 48, out = 24;
    auto W = torch::randn({out, in}) * 0.2;
    auto X = torch::randn({1024, in}) * 2.0;
    auto Y = torch::linear(X, W);
    auto wq = weightQuantizer(W, 8, false, true);
    UniformQuantizer aq = weightQuantizer(X, 4, false, false);  // min-max per tensor: too wide for a normal at 4 bits
    ReconConfig cfg;
    cfg.iters = 300;
    ReconForward f = [&](const ReconState& s, const torch::Tensor& x) {
      return torch::linear(s.act(0, x), s.weight(0));
    };
    auto r = reconstruct({{W, wq}}, {aq}, f, X, Y, cfg);
    QCOMPARE(int(r.acts.size()), 1);
    const double s0 = aq.scale.item<double>(), s1 = r.acts[0].scale.item<double>();
    qInfo("A4 step: %.4f -> %.4f, output MSE %.4g -> %.4g", s0, s1, r.mseNearest, r.mseFinal);
    QVERIFY(s1 < s0);  // min-max is too wide: the learned step clips
    QVERIFY(r.mseFinal < 0.9 * r.mseNearest);
    QCOMPARE(r.acts[0].zero.item<double>(), aq.zero.item<double>());
  }

  void cancels() {
    auto W = torch::randn({8, 8});
    auto X = torch::randn({64, 8});
    JobContext job;
    job.cancel();
    ReconForward f = [&](const ReconState& s, const torch::Tensor& x) { return torch::linear(x, s.weight(0)); };
    bool threw = false;
    try {
      (void)reconstruct({{W, weightQuantizer(W, 4, false, true)}}, {}, f, X, torch::linear(X, W), ReconConfig{}, &job);
    } catch (const ReconCancelled&) {
      threw = true;
    }
    QVERIFY(threw);
  }
};

QTEST_GUILESS_MAIN(TestReconstruct)
#include "test_reconstruct.moc"
