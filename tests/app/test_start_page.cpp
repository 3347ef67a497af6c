// The start page, driven with real mouse clicks offscreen: Netloom opens on it without a
// project; it shows every example as a card with a picture of its graph; a click on a card
// starts a new project from that example, "New Empty Project" an empty one, a recent entry
// opens that file; File ▸ Start Page comes back to it.
#include <QApplication>

#include "gui_test_main.h"
#include <QListWidget>
#include <QPushButton>
#include <QTemporaryDir>
#include <QTest>

#include "app/gui/main_window.h"
#include "app/gui/start_page.h"
#include "editor/canvas/graph_view.h"
#include "engine/project/project.h"

using namespace nl;
using nl::app::MainWindow;
using nl::app::StartPage;

namespace {

QListWidgetItem* card(QListWidget* list, const QString& name) {
  for (int i = 0; i < list->count(); ++i)
    if (list->item(i)->text().startsWith(name + "\n")) return list->item(i);
  return nullptr;
}

void clickItem(QListWidget* list, QListWidgetItem* item) {
  list->scrollToItem(item);
  QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, list->visualItemRect(item).center());
  QApplication::processEvents();
}

}  // namespace

class TestStartPage : public QObject {
  Q_OBJECT

 private slots:
  void everyExampleIsACardWithAPicture() {
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    w.showStartPage();
    QVERIFY(w.isShowingStartPage());
    QCOMPARE(w.windowTitle(), QString("Netloom"));
    QListWidget* cards = w.startPage()->templateList();
    QCOMPARE(cards->count(), MainWindow::templatePaths().size());
    QVERIFY(cards->count() >= 4);
    for (int i = 0; i < cards->count(); ++i) {
      QListWidgetItem* item = cards->item(i);
      QVERIFY2(!item->icon().isNull(), qPrintable(item->text()));
      QVERIFY(item->text().contains("layers"));
      // The picture is not blank: the graph's nodes are drawn in it.
      QImage picture = item->icon().pixmap(QSize(300, 170)).toImage();
      int painted = 0;
      for (int y = 0; y < picture.height(); y += 4)
        for (int x = 0; x < picture.width(); x += 4) painted += qAlpha(picture.pixel(x, y)) > 0;
      QVERIFY2(painted > 50, qPrintable(item->text()));
    }
    QVERIFY(card(cards, "Shapes CNN"));
  }

  void clickingACardStartsFromThatExample() {
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    w.showStartPage();
    QListWidget* cards = w.startPage()->templateList();
    QListWidgetItem* shapes = card(cards, "Shapes CNN");
    QVERIFY(shapes);
    clickItem(cards, shapes);
    QVERIFY(!w.isShowingStartPage());
    project::Project example = project::load_project(NETLOOM_EXAMPLES_DIR "/shapes_cnn.netloom");
    QVERIFY(w.document().graph() == example.graph);
    QVERIFY2(w.session().path.isEmpty(), "a template is a new, unsaved project");
    QVERIFY(w.view()->isVisible());
  }

  void newEmptyAndRecentFiles() {
    QTemporaryDir dir;
    QString path = dir.filePath("mine.netloom");
    {
      MainWindow w;
      w.show();
      QVERIFY(w.newFromTemplate(NETLOOM_EXAMPLES_DIR "/spirals_mlp.netloom"));
      QVERIFY(w.saveProjectAs(path));
    }
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    w.showStartPage();
    QListWidget* recent = w.startPage()->recentList();
    QVERIFY(recent->count() >= 1);
    QCOMPARE(recent->item(0)->data(Qt::UserRole + 1).toString(), QFileInfo(path).absoluteFilePath());
    clickItem(recent, recent->item(0));
    QVERIFY(!w.isShowingStartPage());
    QCOMPARE(w.session().path, QFileInfo(path).absoluteFilePath());

    w.showStartPage();
    QTest::mouseClick(w.startPage()->newButton(), Qt::LeftButton);
    QVERIFY(!w.isShowingStartPage());
    QCOMPARE(w.document().graph().size(), size_t{0});
  }
};

NETLOOM_GUI_TEST_MAIN(TestStartPage)

#include "test_start_page.moc"
