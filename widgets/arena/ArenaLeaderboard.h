// ArenaLeaderboard: a read-only leaderboard table (rank, model, score, mu, sigma, 95% interval, votes,
// comparisons) fed with plain rows, plus a rating-model chooser that emits ratingModelChanged(key).
// Passive; GUI thread only.
#pragma once
#include <QVector>
#include <QWidget>

class QComboBox;
class QTableWidget;

namespace cs::widgets {

struct ArenaLeaderboardRow {
  int rank = 0;
  QString model;
  double score = 0, mu = 0, sigma = 0, lo = 0, hi = 0;
  int votes = 0, comparisons = 0;
};

class ArenaLeaderboard : public QWidget {
  Q_OBJECT
 public:
  explicit ArenaLeaderboard(QWidget* parent = nullptr);

  void setRows(const QVector<ArenaLeaderboardRow>& rows);
  QString ratingModel() const;  // "ksort", "trueskill", "elo" or "bt"
  QTableWidget* table() const { return table_; }

 Q_SIGNALS:
  void ratingModelChanged(const QString& key);

 private:
  QComboBox* model_;
  QTableWidget* table_;
};

}  // namespace cs::widgets
