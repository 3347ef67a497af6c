// The minimap: it shows the whole graph, outlines what the canvas shows, and a real click in
// it moves the canvas there.
#include <QtTest/QtTest>

#include "editor/canvas/graph_scene.h"
#include "editor/canvas/graph_view.h"
#include "editor/canvas/minimap_view.h"
#include "editor/canvas/node_style.h"
#include "editor/graph_document.h"

using namespace nl::graph;
using namespace nl::editor;

class TestMinimap : public QObject {
  Q_OBJECT
 private slots:
  void clickMovesTheCanvasAndTheOverviewShowsEverything() {
    GraphDocument doc;
    // Two nodes far apart: the canvas at 100 % cannot show both.
    NodeId a = doc.addNode("Input", "x", {{"shape", std::vector<int64_t>{-1, 8}}}, {0, 0}).value;
    NodeId b = doc.addNode("Linear", "far", {}, {3000, 1500}).value;
    GraphScene scene(doc);
    GraphView view(&scene);
    view.resize(700, 450);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.centerOn(0, 0);
    QApplication::processEvents();

    MinimapView* map = view.minimap();
    QVERIFY(map->isVisible());
    // Bottom-right corner of the canvas, inside it.
    QRect inside = view.viewport()->rect();
    QVERIFY(inside.contains(map->geometry()));
    QVERIFY(map->geometry().right() > inside.width() / 2 && map->geometry().bottom() > inside.height() / 2);
    // The overview contains every node.
    QRectF shown = map->mapToScene(map->viewport()->rect()).boundingRect();
    QVERIFY(shown.contains(scene.itemsBoundingRect()));
    QVERIFY(!map->canvasRect().contains(QPointF(3050, 1520)));

    // A real click on the far node in the overview centres the canvas near it.
    QPoint target = map->mapFromScene(QPointF(3060, 1520));
    QTest::mouseClick(map->viewport(), Qt::LeftButton, {}, target);
    QApplication::processEvents();
    QPointF centre = view.mapToScene(view.viewport()->rect().center());
    QVERIFY2(QLineF(centre, QPointF(3060, 1520)).length() < 60,
             qPrintable(QString("canvas centre %1,%2").arg(centre.x()).arg(centre.y())));
    QVERIFY(map->canvasRect().contains(QPointF(3060, 1520)));
    (void)a;
    (void)b;

    view.setMinimapVisible(false);
    QVERIFY(!map->isVisible());
  }

  void thePictureFollowsEditsOnceTheyPause() {
    GraphDocument doc;
    doc.addNode("Input", "x", {{"shape", std::vector<int64_t>{-1, 8}}}, {0, 0});
    GraphScene scene(doc);
    GraphView view(&scene);
    view.resize(700, 450);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    MinimapView* map = view.minimap();
    // A node added far away: the overview refits and its picture shows the new node's card
    // (drawn in its category colour) once the edits pause.
    doc.addNode("Linear", "far", {}, {2400, 1600});
    QTRY_VERIFY_WITH_TIMEOUT(map->mapToScene(map->viewport()->rect()).boundingRect().contains(QPointF(2460, 1620)), 3000);
    QImage picture = map->viewport()->grab().toImage();
    QPoint at = map->mapFromScene(QPointF(2460, 1605));
    QColor seen = picture.pixelColor(at);
    QColor background = CanvasColors::current().background;
    QVERIFY2(qAbs(seen.red() - background.red()) + qAbs(seen.green() - background.green()) +
                     qAbs(seen.blue() - background.blue()) > 60,
             qPrintable(QString("pixel %1 at %2,%3").arg(seen.name()).arg(at.x()).arg(at.y())));
  }
};

QTEST_MAIN(TestMinimap)
#include "test_minimap.moc"
