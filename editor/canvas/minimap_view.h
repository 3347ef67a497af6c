// The minimap: a small overview of the whole graph in the canvas' bottom-right corner, with
// the part the canvas shows outlined; clicking or dragging in it moves the canvas there.
//
// Note [Minimap picture]: it sits on the canvas' viewport, so every canvas frame repaints it
// too. Drawing the graph's items there each time cost a 2,000-node graph most of its frame;
// instead the overview is a picture of the canvas scene, rendered again only once edits
// pause, shown over an empty scene of the same extent (so mapToScene and mapFromScene keep
// working) with the outline drawn on top.
#pragma once
#include <QGraphicsView>
#include <QPixmap>
#include <QTimer>

namespace nl::editor {

class GraphView;

class MinimapView : public QGraphicsView {
  Q_OBJECT

 public:
  // Lives on `canvas`'s viewport and follows its scrolling and the scene's changes; the
  // canvas calls place() when it is resized.
  explicit MinimapView(GraphView* canvas);

  // Refits the overview to every item and renders its picture again (after the scene changed).
  void refit();
  // The scene rectangle the canvas currently shows.
  QRectF canvasRect() const;

 protected:
  void drawBackground(QPainter* painter, const QRectF& rect) override;
  void drawForeground(QPainter* painter, const QRectF& rect) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void showEvent(QShowEvent* event) override;

 public:
  void place();  // bottom-right corner of the canvas viewport

 private:
  GraphView* canvas_;
  QGraphicsScene* source_;  // the canvas' scene; this view shows an empty scene of its extent
  QPixmap picture_;         // source_ rendered over picture_rect_ (scene coordinates)
  QRectF picture_rect_;
  QTimer refit_later_;      // restarted by every change: renders once edits pause
};

}  // namespace nl::editor
