// A small sparkline of a layer's gradient norm under its node on the canvas while a run
// trains. A child item of the node's NodeItem, so it moves and disappears with it; it holds
// no model state (the dashboard hands it the norms).
#pragma once
#include <QGraphicsItem>
#include <vector>

namespace nl::app {

class GradientSparkline : public QGraphicsItem {
 public:
  enum { Type = UserType + 40 };
  explicit GradientSparkline(QGraphicsItem* node);
  int type() const override { return Type; }

  void setNorms(const std::vector<double>& norms);
  const std::vector<double>& norms() const { return norms_; }

  QRectF boundingRect() const override;
  void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

  // The sparkline under `node`, created on first use.
  static GradientSparkline* of(QGraphicsItem* node, bool create);

 private:
  std::vector<double> norms_;  // the most recent ones, oldest first
  qreal width_;
};

}  // namespace nl::app
