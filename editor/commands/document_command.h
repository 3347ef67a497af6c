// Base of the editor's undo commands: a command is run once by the document before it is
// pushed (so a refused request is never pushed, Note [Document edits] in graph_document.h);
// QUndoStack::push then calls redo(), which must not run it a second time.
#pragma once
#include <QUndoCommand>

#include "editor/graph_document.h"

namespace nl::editor {

class DocumentCommand : public QUndoCommand {
 public:
  explicit DocumentCommand(GraphDocument& doc, const QString& text) : QUndoCommand(text), doc_(doc) {}

  // Applies the edit for the first time; on failure the graph is unchanged.
  virtual graph::EditResult perform() = 0;

  void redo() final {
    if (first_redo_skipped_) {
      ChangeScope scope(doc_);
      perform();
    }
    first_redo_skipped_ = true;
  }
  void undo() final {
    ChangeScope scope(doc_);
    revert();
  }

 protected:
  virtual void revert() = 0;
  GraphDocument& doc_;

 private:
  bool first_redo_skipped_ = false;
};

}  // namespace nl::editor
