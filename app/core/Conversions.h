// Conversions between the engine's plain C++ value types and Qt types.
// Pure functions, thread-safe. No torch, no widgets.
#pragma once
#include <QString>
#include <QStringList>
#include <QVector>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "engine/stats.h"

namespace cs::qt {

inline QString toQString(const std::string& s) { return QString::fromStdString(s); }
inline std::string toStd(const QString& s) { return s.toStdString(); }

// Pretty JSON (indent 2) as a QString; invalid input gives the raw text back.
QString jsonToQString(const nlohmann::json& j, int indent = 2);
QString prettyJson(const std::string& text);
// Parses JSON text; a discarded value (is_discarded()) on error.
nlohmann::json parseJson(const QString& text);

// Histogram bins as plot series.
QVector<double> binCenters(const Histogram& h);
QVector<double> binCounts(const Histogram& h);
double countSum(const Histogram& h);  // in-range counts (what the plot shows)

// "[64, 3, 4, 4]" and "1,234,567".
QString shapeToQString(const std::vector<int64_t>& shape);
QString groupedNumber(qint64 n);
// Accuracy in [0,1] as "91.23 %"; NaN / missing as "—".
QString percentText(double fraction, int decimals = 2);
// Decibels with one decimal; +inf as "∞ dB".
QString decibelText(double db);

}  // namespace cs::qt
