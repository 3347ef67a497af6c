// The canvas view: navigation, grid, keyboard.
#include "editor/canvas/graph_view.h"

#include <QKeyEvent>
#include <QScrollBar>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

#include "editor/canvas/graph_scene.h"

namespace nl::editor {

namespace {
constexpr double kMinZoom = 0.1, kMaxZoom = 4.0;
constexpr double kGrid = 20;  // minor grid step; every fifth line is stronger
}  // namespace

GraphView::GraphView(GraphScene* scene, QWidget* parent) : QGraphicsView(scene, parent), scene_(scene) {
  setRenderHints(QPainter::Antialiasing | QPainter::TextAntialiasing | QPainter::SmoothPixmapTransform);
  setDragMode(RubberBandDrag);
  setRubberBandSelectionMode(Qt::IntersectsItemShape);
  setTransformationAnchor(AnchorUnderMouse);
  setViewportUpdateMode(SmartViewportUpdate);
  setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  setFocusPolicy(Qt::StrongFocus);
}

void GraphView::fitToView() {
  QRectF bounds = scene_->itemsBoundingRect();
  if (bounds.isEmpty()) return;
  fitInView(bounds.adjusted(-30, -30, 30, 30), Qt::KeepAspectRatio);
  if (zoom() > 1.0) {
    resetTransform();
    centerOn(bounds.center());
  }
}

void GraphView::zoomBy(double factor) {
  double target = std::clamp(zoom() * factor, kMinZoom, kMaxZoom);
  scale(target / zoom(), target / zoom());
}

void GraphView::wheelEvent(QWheelEvent* event) {
  // The scene point under the wheel's position stays put. (AnchorUnderMouse reads the
  // global cursor, which is not where a synthetic or touchpad event happened.)
  double steps = event->angleDelta().y() / 120.0;
  if (steps == 0) return;
  QPoint cursor = event->position().toPoint();
  QPointF anchor = mapToScene(cursor);
  ViewportAnchor saved = transformationAnchor();
  setTransformationAnchor(NoAnchor);
  zoomBy(std::pow(1.15, steps));
  setTransformationAnchor(saved);
  QPoint drift = mapFromScene(anchor) - cursor;
  horizontalScrollBar()->setValue(horizontalScrollBar()->value() + drift.x());
  verticalScrollBar()->setValue(verticalScrollBar()->value() + drift.y());
  event->accept();
}

void GraphView::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::MiddleButton) {
    panning_ = true;
    pan_last_ = event->pos();
    viewport()->setCursor(Qt::ClosedHandCursor);
    event->accept();
    return;
  }
  QGraphicsView::mousePressEvent(event);
}

void GraphView::mouseMoveEvent(QMouseEvent* event) {
  if (panning_) {
    QPoint delta = event->pos() - pan_last_;
    pan_last_ = event->pos();
    horizontalScrollBar()->setValue(horizontalScrollBar()->value() - delta.x());
    verticalScrollBar()->setValue(verticalScrollBar()->value() - delta.y());
    event->accept();
    return;
  }
  QGraphicsView::mouseMoveEvent(event);
}

void GraphView::mouseReleaseEvent(QMouseEvent* event) {
  if (panning_ && event->button() == Qt::MiddleButton) {
    panning_ = false;
    viewport()->unsetCursor();
    event->accept();
    return;
  }
  QGraphicsView::mouseReleaseEvent(event);
}

void GraphView::keyPressEvent(QKeyEvent* event) {
  if (event->key() == Qt::Key_Delete || event->key() == Qt::Key_Backspace) {
    scene_->deleteSelection();
    event->accept();
    return;
  }
  if (event->key() == Qt::Key_Home) {
    fitToView();
    event->accept();
    return;
  }
  QGraphicsView::keyPressEvent(event);
}

void GraphView::drawBackground(QPainter* p, const QRectF& rect) {
  p->fillRect(rect, QColor("#eceff1"));
  // Minor lines vanish when zoomed far out: they would only grey the canvas.
  bool minor = zoom() * kGrid >= 8;
  double step = minor ? kGrid : kGrid * 5;
  double left = std::floor(rect.left() / step) * step, top = std::floor(rect.top() / step) * step;
  QPen minor_pen(QColor("#dde3e6"), 0), major_pen(QColor("#cfd8dc"), 0);
  for (double x = left; x < rect.right(); x += step) {
    bool major = std::fmod(std::abs(x), kGrid * 5) < 0.5;
    p->setPen(major ? major_pen : minor_pen);
    p->drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()));
  }
  for (double y = top; y < rect.bottom(); y += step) {
    bool major = std::fmod(std::abs(y), kGrid * 5) < 0.5;
    p->setPen(major ? major_pen : minor_pen);
    p->drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y));
  }
}

}  // namespace nl::editor
