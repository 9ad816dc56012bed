#include "core/RunListModel.h"

#include <QDateTime>

#include <algorithm>
#include <cmath>

#include "core/Conversions.h"

namespace cs::qt {
namespace {

double metric(const std::string& metricsJson, const char* key) {
  auto j = nlohmann::json::parse(metricsJson, nullptr, false);
  if (j.is_object() && j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return std::nan("");
}

}  // namespace

RunListModel::RunListModel(QObject* parent) : QAbstractTableModel(parent) {}

void RunListModel::setRuns(std::vector<RunRecord> runs) {
  beginResetModel();
  runs_ = std::move(runs);
  std::stable_sort(runs_.begin(), runs_.end(), [](const RunRecord& a, const RunRecord& b) { return a.id > b.id; });
  endResetModel();
}

const RunRecord* RunListModel::runAt(int row) const {
  if (row < 0 || row >= static_cast<int>(runs_.size())) return nullptr;
  return &runs_[static_cast<size_t>(row)];
}

int RunListModel::rowForId(qint64 id) const {
  for (size_t i = 0; i < runs_.size(); ++i)
    if (runs_[i].id == id) return static_cast<int>(i);
  return -1;
}

QString RunListModel::bitsLabel(const std::string& recipeJson) {
  auto j = nlohmann::json::parse(recipeJson, nullptr, false);
  if (!j.is_object() || !j.contains("params") || !j["params"].is_object()) return {};
  const auto& p = j["params"];
  QString out;
  if (p.contains("wbits") && p["wbits"].is_number()) out += QStringLiteral("W%1").arg(p["wbits"].get<int>());
  if (p.contains("abits") && p["abits"].is_number()) {
    const int a = p["abits"].get<int>();
    if (a > 0 && a < 32) out += QStringLiteral("A%1").arg(a);  // 0: weight-only, activations stay FP
  }
  return out;
}

int RunListModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(runs_.size());
}
int RunListModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RunListModel::data(const QModelIndex& index, int role) const {
  const RunRecord* r = runAt(index.row());
  if (!r || index.column() < 0 || index.column() >= ColumnCount) return {};
  if (role == RunIdRole) return static_cast<qlonglong>(r->id);
  if (role == RecipeJsonRole) return toQString(r->recipeJson);
  if (role == MetricsJsonRole) return toQString(r->metricsJson);
  if (role == Qt::TextAlignmentRole) {
    if (index.column() >= FpAccColumn && index.column() <= SecondsColumn)
      return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    return {};
  }
  if (role == Qt::ToolTipRole && index.column() == ModelColumn) return toQString(r->model);
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case TimeColumn: {
      auto t = QDateTime::fromString(toQString(r->createdAt), Qt::ISODate);
      return t.isValid() ? t.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss")) : toQString(r->createdAt);
    }
    case ModelColumn: {
      const QString m = toQString(r->model);
      return m.section(QLatin1Char('/'), -1);
    }
    case MethodColumn: return toQString(r->method).toUpper();
    case BitsColumn: return bitsLabel(r->recipeJson);
    case FpAccColumn:
    case QAccColumn: {
      const bool fp = index.column() == FpAccColumn;
      const double acc = metric(r->metricsJson, fp ? "fp_accuracy" : "q_accuracy");
      const double ppl = metric(r->metricsJson, fp ? "fp_ppl" : "q_ppl");  // language models
      if (!std::isfinite(acc) && std::isfinite(ppl)) return QStringLiteral("ppl %1").arg(ppl, 0, 'f', 2);
      return percentText(acc);
    }
    case SecondsColumn: return QString::number(r->seconds, 'f', 1);
    case StatusColumn: return toQString(r->status);
  }
  return {};
}

QVariant RunListModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case TimeColumn: return tr("Time");
    case ModelColumn: return tr("Model");
    case MethodColumn: return tr("Method");
    case BitsColumn: return tr("Bits");
    case FpAccColumn: return tr("FP acc");
    case QAccColumn: return tr("Q acc");
    case SecondsColumn: return tr("Seconds");
    case StatusColumn: return tr("Status");
  }
  return {};
}

}  // namespace cs::qt
