// SampleGrid: a passive grid of generated images, each drawn at an integer zoom with its
// label ("Sneaker · seed 3") under it. Fed with plain data (QImage + label per tile); it
// never starts work. Columns: fixed (setColumns > 0) or as many as fit the width.
#pragma once
#include <QImage>
#include <QString>
#include <QVector>
#include <QWidget>

namespace cs::widgets {

struct SampleTile {
  QImage image;
  QString label;
};

class SampleGrid : public QWidget {
  Q_OBJECT
 public:
  explicit SampleGrid(QWidget* parent = nullptr);

  void setTiles(const QVector<SampleTile>& tiles);
  void clear() { setTiles({}); }
  int count() const { return static_cast<int>(tiles_.size()); }
  const SampleTile& tile(int i) const { return tiles_.at(i); }
  void setColumns(int cols);   // 0: fit the width
  int columns() const;         // effective columns
  void setZoom(int zoom);      // pixels per image pixel (default 3)
  void setPlaceholder(const QString& text);

  QSize sizeHint() const override;
  bool hasHeightForWidth() const override { return true; }
  int heightForWidth(int w) const override;

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  QSize cellSize() const;
  int columnsFor(int width) const;

  QVector<SampleTile> tiles_;
  int columns_ = 0;
  int zoom_ = 3;
  QString placeholder_;
};

}  // namespace cs::widgets
