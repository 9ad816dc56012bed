#include "core/Conversions.h"

#include <QLocale>

#include <cmath>
#include <numeric>

namespace cs::qt {

QString jsonToQString(const nlohmann::json& j, int indent) {
  return QString::fromStdString(j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace));
}

QString prettyJson(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return QString::fromStdString(text);
  return jsonToQString(j);
}

nlohmann::json parseJson(const QString& text) {
  return nlohmann::json::parse(text.toStdString(), nullptr, false);
}

QVector<double> binCenters(const Histogram& h) {
  QVector<double> x;
  x.reserve(static_cast<int>(h.counts.size()));
  for (size_t i = 0; i < h.counts.size(); ++i) x.push_back(h.binCenter(i));
  return x;
}

QVector<double> binCounts(const Histogram& h) {
  return QVector<double>(h.counts.begin(), h.counts.end());
}

double countSum(const Histogram& h) { return std::accumulate(h.counts.begin(), h.counts.end(), 0.0); }

QString shapeToQString(const std::vector<int64_t>& shape) {
  if (shape.empty()) return {};
  QStringList parts;
  for (auto d : shape) parts << QString::number(d);
  return QLatin1Char('[') + parts.join(QLatin1String(", ")) + QLatin1Char(']');
}

QString groupedNumber(qint64 n) {
  QLocale c(QLocale::English);
  return c.toString(n);
}

QString percentText(double fraction, int decimals) {
  if (!std::isfinite(fraction)) return QStringLiteral("—");
  return QString::number(fraction * 100.0, 'f', decimals) + QStringLiteral(" %");
}

QString decibelText(double db) {
  if (std::isinf(db) && db > 0) return QStringLiteral("∞ dB");
  if (!std::isfinite(db)) return QStringLiteral("—");
  return QString::number(db, 'f', 1) + QStringLiteral(" dB");
}

}  // namespace cs::qt
