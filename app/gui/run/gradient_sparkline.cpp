// Gradient-norm sparklines on canvas nodes (see gradient_sparkline.h).
#include "app/gui/run/gradient_sparkline.h"

#include <QPainter>
#include <QPainterPath>
#include <algorithm>
#include <cmath>

namespace nl::app {

namespace {
constexpr int kKeep = 60;
constexpr qreal kHeight = 20;
}  // namespace

GradientSparkline::GradientSparkline(QGraphicsItem* node) : QGraphicsItem(node) {
  const QRectF r = node->boundingRect();
  width_ = r.width();
  setPos(r.left(), r.bottom() + 3);
  setZValue(-1);
  setAcceptedMouseButtons(Qt::NoButton);
  setToolTip(QObject::tr("Gradient norm of this layer while training (log scale)"));
}

GradientSparkline* GradientSparkline::of(QGraphicsItem* node, bool create) {
  for (QGraphicsItem* child : node->childItems())
    if (child->type() == Type) return static_cast<GradientSparkline*>(child);
  return create ? new GradientSparkline(node) : nullptr;
}

void GradientSparkline::setNorms(const std::vector<double>& norms) {
  const size_t start = norms.size() > kKeep ? norms.size() - kKeep : 0;
  norms_.assign(norms.begin() + static_cast<std::ptrdiff_t>(start), norms.end());
  update();
}

QRectF GradientSparkline::boundingRect() const { return QRectF(0, 0, width_, kHeight); }

void GradientSparkline::paint(QPainter* p, const QStyleOptionGraphicsItem*, QWidget*) {
  QRectF r = boundingRect();
  p->setRenderHint(QPainter::Antialiasing);
  p->setPen(Qt::NoPen);
  p->setBrush(QColor(127, 127, 127, 40));
  p->drawRoundedRect(r, 3, 3);
  std::vector<double> logs;
  for (double v : norms_) logs.push_back(v > 0 && std::isfinite(v) ? std::log10(v) : NAN);
  double lo = INFINITY, hi = -INFINITY;
  for (double v : logs)
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  QFont f = p->font();
  f.setPointSizeF(6.5);
  p->setFont(f);
  const qreal text_w = 44;
  const QRectF plot = r.adjusted(3, 3, -text_w, -3);
  if (std::isfinite(lo) && logs.size() >= 2) {
    if (hi - lo < 1e-9) {
      lo -= 0.5;
      hi += 0.5;
    }
    QPainterPath path;
    bool started = false;
    for (size_t i = 0; i < logs.size(); ++i) {
      if (!std::isfinite(logs[i])) continue;
      QPointF pt(plot.left() + plot.width() * i / (logs.size() - 1), plot.bottom() - (logs[i] - lo) / (hi - lo) * plot.height());
      if (!started) path.moveTo(pt);
      else path.lineTo(pt);
      started = true;
    }
    p->setPen(QPen(QColor(214, 39, 40), 1.4));
    p->setBrush(Qt::NoBrush);
    p->drawPath(path);
  }
  if (!norms_.empty()) {
    p->setPen(QColor(110, 110, 110));
    p->drawText(QRectF(r.right() - text_w, r.top(), text_w - 2, r.height()), Qt::AlignRight | Qt::AlignVCenter,
                QString::number(norms_.back(), 'e', 1));
  }
}

}  // namespace nl::app
