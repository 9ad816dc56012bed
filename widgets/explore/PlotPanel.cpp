#include "widgets/explore/PlotPanel.h"

#include <QContextMenuEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenu>
#include <QTextStream>
#include <QVBoxLayout>

#include "widgets/HistogramView.h"
#include "widgets/QCustomPlotInclude.h"

namespace cs::widgets {

bool saveSvg(QCustomPlot* plot, const QString& path, int width, int height) {
  return savePlotSvg(plot, path, width, height);
}

PlotPanel::PlotPanel(QWidget* parent) : QWidget(parent) {
  auto* lay = new QVBoxLayout(this);
  lay->setContentsMargins(0, 0, 0, 0);
  plot_ = new QCustomPlot(this);
  plot_->setMinimumHeight(220);
  plot_->plotLayout()->insertRow(0);
  title_ = new QCPTextElement(plot_, QString(), QFont(font().family(), 10, QFont::Bold));
  plot_->plotLayout()->addElement(0, 0, title_);
  note_ = new QLabel(this);
  note_->setWordWrap(true);
  note_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  lay->addWidget(plot_, 1);
  lay->addWidget(note_);
}

void PlotPanel::setTitle(const QString& t) { title_->setText(t); }
void PlotPanel::setNote(const QString& n) { note_->setText(n); }
QString PlotPanel::note() const { return note_->text(); }

void PlotPanel::clear(const QString& placeholder) {
  resetPlot();
  setTitle(placeholder);
  setNote(QString());
  refresh();
}

void PlotPanel::refresh(bool now) {
  if (!isVisible()) {
    dirty_ = true;
    return;
  }
  dirty_ = false;
  plot_->replot(now ? QCustomPlot::rpRefreshHint : QCustomPlot::rpQueuedReplot);
}

void PlotPanel::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  if (dirty_) refresh();
}

bool PlotPanel::exportTo(const QString& path) const {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == QLatin1String("png")) return plot_->savePng(path, 0, 0, 2.0);
  if (suffix == QLatin1String("pdf")) return plot_->savePdf(path);
  if (suffix == QLatin1String("svg")) return saveSvg(plot_, path);
  if (suffix == QLatin1String("csv")) {
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) return false;
    QTextStream(&f) << csv();
    return true;
  }
  return false;
}

void PlotPanel::contextMenuEvent(QContextMenuEvent* event) {
  QMenu menu(this);
  struct Fmt {
    QString label, filter, suffix;
  };
  const Fmt fmts[] = {{tr("Export PNG…"), tr("PNG image (*.png)"), QStringLiteral("png")},
                      {tr("Export SVG…"), tr("SVG image (*.svg)"), QStringLiteral("svg")},
                      {tr("Export PDF…"), tr("PDF document (*.pdf)"), QStringLiteral("pdf")},
                      {tr("Export CSV…"), tr("CSV table (*.csv)"), QStringLiteral("csv")}};
  for (const auto& f : fmts) {
    auto* a = menu.addAction(f.label);
    a->setEnabled(hasData());
    connect(a, &QAction::triggered, this, [this, f] {
      const QString path = QFileDialog::getSaveFileName(this, f.label, QStringLiteral("plot.") + f.suffix, f.filter);
      if (!path.isEmpty()) exportTo(path);
    });
  }
  menu.exec(event->globalPos());
}

}  // namespace cs::widgets
