// StudioSession: the state behind the Compress tab and the jobs that change it.
//
// Holds the open model, the selected layer, the last calibration statistics and the
// last quantization result, and derives the plot data for the selected layer (weight
// histogram FP vs quantized; input activation histogram FP vs fake-quantized with its
// clipping range). Every engine call runs on the JobRunner; results arrive on the GUI
// thread through signals. Views never talk to the engine; they read plots() and the
// item models and send intents to the slots.
// Threading: GUI thread only.
#pragma once
#include <QObject>
#include <QString>

#include <memory>
#include <optional>

#include "compression/quantize.h"
#include "core/JobRunner.h"
#include "core/LayerTreeModel.h"
#include "core/WorkspaceDocument.h"
#include "engine/model.h"

namespace cs::qt {

// Histograms of the selected layer, ready to plot. Quantized series share the bins of
// their full-precision partner.
struct LayerPlots {
  QString layer;
  // Weights.
  bool hasWeight = false;
  Histogram weightFp;
  std::optional<Histogram> weightQ;
  std::optional<ErrorStats> weightError;
  int64_t weightNumel = 0;
  QString weightGranularity;  // of the quantized weight, from the run
  int wbits = 0;
  // Input activations (after calibration).
  bool hasActivation = false;
  Histogram activationFp;
  std::optional<Histogram> activationQ;
  std::optional<QuantParams> activationParams;  // clipping range lo/hi
  std::optional<ErrorStats> activationError;
  int64_t activationValues = 0;    // all values seen during calibration
  int64_t activationSampled = 0;   // values in the plotted sample
  int calibrationImages = 0;
};

class StudioSession : public QObject {
  Q_OBJECT
 public:
  static constexpr int kBins = 128;

  explicit StudioSession(QObject* parent = nullptr);
  ~StudioSession() override;

  JobRunner* jobs() { return &jobs_; }
  LayerTreeModel* layerModel() { return &layers_; }
  WorkspaceDocument* workspace() { return &workspace_; }

  bool hasModel() const { return model_.valid(); }
  const Model& model() const { return model_; }
  QString modelName() const { return modelName_; }
  QString selectedLayer() const { return layer_; }
  const LayerPlots& plots() const { return plots_; }
  const QuantizeResult* lastQuantization() const { return quant_.get(); }
  const ActivationStats* calibration() const { return calib_.get(); }
  qint64 lastRunId() const { return lastRunId_; }

  // Per-layer report as JSON (stored with each run).
  static nlohmann::json layersJson(const std::vector<LayerQuantReport>& layers);

 public Q_SLOTS:
  void openModel(const QString& nameOrPath);
  void selectLayer(const QString& fullName);
  void calibrate(int images);
  // Quantizes the open model with `method` and its params; evalSamples test images.
  void quantize(const QString& method, const nlohmann::json& params, int calibImages, int evalSamples);
  void cancelAll() { jobs_.cancel(); }

 Q_SIGNALS:
  void modelOpening(const QString& nameOrPath);
  void modelOpened(const QString& name);
  void layerSelected(const QString& fullName);
  void plotsChanged();
  void calibrationFinished(const QString& layer);
  void quantizationFinished(qint64 runId);
  // A job failed or was cancelled: what (short) and why (one line).
  void jobFailed(const QString& what, const QString& message, bool cancelled);

 private:
  void updateWeightPlots();
  void updateActivationPlots();
  const LayerQuantReport* reportFor(const QString& layer) const;
  void fail(const QString& what, const QString& message, bool cancelled);

  JobRunner jobs_;
  LayerTreeModel layers_;
  WorkspaceDocument workspace_;
  Model model_;
  QString modelName_;
  QString layer_;
  LayerPlots plots_;
  std::shared_ptr<const ActivationStats> calib_;
  std::shared_ptr<const QuantizeResult> quant_;
  int calibImages_ = 0;  // > 0 once the user calibrated: new layers calibrate too
  qint64 lastRunId_ = -1;
};

}  // namespace cs::qt
