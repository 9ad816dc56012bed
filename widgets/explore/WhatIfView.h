// WhatIfView: the "what-if" quantizer of the distribution explorer. Controls for bits,
// granularity (tensor / channel / group / token), group size, symmetric or not and the
// clip percentile, plus the source (weight or captured activation sample); a histogram
// of the full-precision values with the quantized values overlaid on the same bins, the
// clipping range as dashed lines, and clipped fraction, MSE and SQNR in the note.
// Passive: a control change emits settingsChanged(); the owner recomputes (from its
// cached tensor) and calls setData(). data() is exactly what is plotted. GUI thread only.
#pragma once
#include <QVector>

#include "widgets/explore/PlotPanel.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QSpinBox;

namespace cs::widgets {

struct WhatIfSettings {
  bool activation = false;       // source: captured activation sample (else the weight)
  int bits = 4;
  QString granularity = QStringLiteral("channel");  // "tensor", "channel", "group", "token"
  int groupSize = 32;
  bool symmetric = true;
  double clipPercentile = 100.0;
};

struct WhatIfData {
  QString title, xLabel;               // xLabel with units ("weight value")
  QVector<double> centers, reference, quantized;  // shared bins
  double binWidth = 0;
  double clipLo = 0, clipHi = 0;       // drawn as dashed lines
  double clippedFraction = 0, mse = 0, sqnrDb = 0;
  qint64 values = 0, groups = 0;
  QString config;                      // "W4 per-channel symmetric, clip p99.9"
  double milliseconds = 0;             // time of the update that produced this (shown)
};

class WhatIfView : public PlotPanel {
  Q_OBJECT
 public:
  explicit WhatIfView(QWidget* parent = nullptr);
  void setData(const WhatIfData& d);
  const WhatIfData& data() const { return d_; }
  QString csv() const override;
  bool hasData() const override { return !d_.centers.isEmpty(); }

  WhatIfSettings settings() const;
  // Sets the controls without emitting settingsChanged().
  void setSettings(const WhatIfSettings& s);
  // Enables the activation source (after a capture) or disables it.
  void setActivationAvailable(bool on);
  bool logScale() const;
  void setLogScale(bool on);

  QSpinBox* bitsBox() const { return bits_; }
  QComboBox* granularityBox() const { return gran_; }
  QComboBox* sourceBox() const { return source_; }
  QCheckBox* symmetricBox() const { return sym_; }
  QDoubleSpinBox* clipBox() const { return clip_; }
  QSpinBox* groupBox() const { return group_; }

 Q_SIGNALS:
  void settingsChanged(const cs::widgets::WhatIfSettings& s);

 protected:
  void resetPlot() override;

 private:
  void redraw();
  WhatIfData d_;
  QComboBox* source_;
  QSpinBox* bits_;
  QComboBox* gran_;
  QSpinBox* group_;
  QCheckBox* sym_;
  QDoubleSpinBox* clip_;
  QCheckBox* log_;
};

}  // namespace cs::widgets
