// The canvas minimap (see minimap_view.h).
#include "editor/canvas/minimap_view.h"

#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>

#include "editor/canvas/graph_scene.h"
#include "editor/canvas/graph_view.h"
#include "editor/canvas/node_style.h"

namespace nl::editor {

namespace {
constexpr int kWidth = 220, kHeight = 140, kMargin = 12;
}

MinimapView::MinimapView(GraphView* canvas)
    : QGraphicsView(canvas->viewport()), canvas_(canvas), source_(canvas->scene()) {
  setScene(new QGraphicsScene(this));
  setInteractive(false);  // an overview: items are not selected or dragged here
  setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  setRenderHints(QPainter::Antialiasing);
  setFrameShape(QFrame::Box);
  setCursor(Qt::PointingHandCursor);
  setToolTip(tr("Overview: click or drag to move the canvas"));
  resize(kWidth, kHeight);
  // The outline follows the canvas' scrolling and zooming (both move its scroll bars).
  connect(canvas->horizontalScrollBar(), &QScrollBar::valueChanged, viewport(), qOverload<>(&QWidget::update));
  connect(canvas->verticalScrollBar(), &QScrollBar::valueChanged, viewport(), qOverload<>(&QWidget::update));
  refit_later_.setSingleShot(true);
  refit_later_.setInterval(250);
  connect(&refit_later_, &QTimer::timeout, this, &MinimapView::refit);
  connect(source_, &QGraphicsScene::changed, &refit_later_, qOverload<>(&QTimer::start));
  // A new graph (open, new project) shows at once rather than after the pause.
  connect(&canvas->graphScene()->document(), &GraphDocument::graphReset, this,
          [this] { QTimer::singleShot(0, this, &MinimapView::refit); });
  place();
  refit();
}

void MinimapView::refit() {
  QRectF items = source_->itemsBoundingRect();
  if (items.isEmpty()) {
    picture_ = QPixmap();
    viewport()->update();
    return;
  }
  items.adjust(-40, -40, 40, 40);
  scene()->setSceneRect(items);
  fitInView(items, Qt::KeepAspectRatio);
  // Render exactly what the viewport maps to, at the viewport's pixel size.
  QRect target = viewport()->rect();
  picture_rect_ = mapToScene(target).boundingRect();
  qreal dpr = devicePixelRatioF();
  picture_ = QPixmap(target.size() * dpr);
  picture_.setDevicePixelRatio(dpr);
  picture_.fill(Qt::transparent);
  {
    QPainter p(&picture_);
    p.setRenderHint(QPainter::Antialiasing);
    source_->render(&p, QRectF(QPointF(0, 0), QSizeF(target.size())), picture_rect_, Qt::IgnoreAspectRatio);
  }
  viewport()->update();
}

void MinimapView::showEvent(QShowEvent* event) {
  QGraphicsView::showEvent(event);
  refit();  // hidden, it skipped nothing but may be stale
}

QRectF MinimapView::canvasRect() const {
  return canvas_->mapToScene(canvas_->viewport()->rect()).boundingRect();
}

void MinimapView::place() {
  // From the canvas' own size: during its resize event the viewport may not be laid out yet.
  // (Scroll bars are off, so the viewport is the canvas minus its frame.)
  QSize host = canvas_->size() - QSize(2 * canvas_->frameWidth(), 2 * canvas_->frameWidth());
  move(host.width() - width() - kMargin, host.height() - height() - kMargin);
}

void MinimapView::drawBackground(QPainter* p, const QRectF& rect) {
  QColor background = CanvasColors::current().background;
  background.setAlpha(235);
  p->fillRect(rect, background);
  if (!picture_.isNull()) p->drawPixmap(picture_rect_, picture_, QRectF(picture_.rect()));
}

void MinimapView::drawForeground(QPainter* p, const QRectF&) {
  // The visible part of the canvas; a cosmetic pen keeps it one pixel wide at any scale.
  QPen pen(QColor("#ffb300"), 2);
  pen.setCosmetic(true);
  p->setPen(pen);
  p->setBrush(QColor(255, 179, 0, 18));  // light: with the whole graph in view it covers the map
  p->drawRect(canvasRect());
}

void MinimapView::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton) return QGraphicsView::mousePressEvent(event);
  canvas_->centerOn(mapToScene(event->position().toPoint()));
  viewport()->update();
  event->accept();
}

void MinimapView::mouseMoveEvent(QMouseEvent* event) {
  if (!(event->buttons() & Qt::LeftButton)) return QGraphicsView::mouseMoveEvent(event);
  canvas_->centerOn(mapToScene(event->position().toPoint()));
  viewport()->update();
  event->accept();
}

void MinimapView::wheelEvent(QWheelEvent* event) { event->ignore(); }  // the canvas zooms, not the overview

}  // namespace nl::editor
