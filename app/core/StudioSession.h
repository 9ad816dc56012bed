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

#include <map>
#include <memory>
#include <optional>

#include "compression/quant_inspect.h"
#include "compression/quant_plan.h"
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
  QString method;             // of the run whose variant is shown
  int wbits = 0;
  bool weightFolded = false;  // the FP reference is the source weight times the fold factors r
  // Input activations (after calibration).
  bool hasActivation = false;
  Histogram activationFp;
  std::optional<Histogram> activationQ;
  std::optional<QuantParams> activationParams;  // clipping range lo/hi
  std::optional<ErrorStats> activationError;
  int64_t activationValues = 0;    // all values seen during calibration
  int64_t activationSampled = 0;   // values in the plotted sample
  int calibrationImages = 0;
  // The overlay holds the variant's own (folded, quantized) input, observed by running the
  // calibration images through the variant, instead of the FP sample fake-quantized.
  bool activationFromVariant = false;
  // LayerNorm fold whose consumer is the selected layer (RepQ-ViT / RepQuant variants).
  std::optional<NormFoldRanges> fold;
};

class StudioSession : public QObject {
  Q_OBJECT
 public:
  static constexpr int kBins = 128;
  static constexpr size_t kMaxVariants = 8;  // variants kept in memory

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
  // The variant shown (the last run, or the run selected in the run table).
  const QuantizeResult* lastQuantization() const { return quant_.get(); }
  qint64 variantRunId() const { return variantRun_; }
  // Whether the variant of run `id` is in memory (runs of this session; older runs keep
  // only their recipe and metrics).
  bool hasVariant(qint64 id) const { return variants_.count(id) > 0; }
  // Every LayerNorm fold of the shown variant.
  std::vector<NormFoldRanges> folds() const;
  // The resolved per-tensor plan for the open model (same facade as `cstudio quantize
  // --plan FILE --plan-only`). Cheap: runs on the caller's thread.
  Result<ResolvedPlan> previewPlan(const QuantPlan& plan) const;
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
  // Shows the variant of run `id` (from the run table); variantChanged() follows.
  void selectVariant(qint64 id);
  // Saves the shown variant (same facade as `cstudio quantize --save`): a .safetensors
  // path or a directory. variantSaved(file) or jobFailed() follows.
  void saveVariant(const QString& path);

 Q_SIGNALS:
  void modelOpening(const QString& nameOrPath);
  void modelOpened(const QString& name);
  void layerSelected(const QString& fullName);
  void plotsChanged();
  void calibrationFinished(const QString& layer);
  void quantizationFinished(qint64 runId);
  // The shown variant changed (runId -1: none; `inMemory` false: the run's variant is gone).
  void variantChanged(qint64 runId, bool inMemory);
  void variantSaved(const QString& file);
  // A job failed or was cancelled: what (short) and why (one line).
  void jobFailed(const QString& what, const QString& message, bool cancelled);

 private:
  void updateWeightPlots();
  void updateActivationPlots();
  const LayerQuantReport* reportFor(const QString& layer) const;
  std::optional<NormFoldRanges> foldFor(const QString& layer) const;
  void setVariant(std::shared_ptr<const QuantizeResult> q, qint64 runId);
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
  std::map<qint64, std::shared_ptr<const QuantizeResult>> variants_;  // by run id, newest kept
  qint64 variantRun_ = -1;
  // Calibration of the selected layer's input through the shown variant (fold consumers).
  std::shared_ptr<const ActivationStats> calibVariant_;
  const QuantizeResult* calibVariantOf_ = nullptr;
  int calibImages_ = 0;  // > 0 once the user calibrated: new layers calibrate too
  qint64 lastRunId_ = -1;
};

}  // namespace cs::qt
