// LayerTreeModel and RunListModel under QAbstractItemModelTester.
#include <QAbstractItemModelTester>
#include <QTest>

#include "core/LayerTreeModel.h"
#include "core/RunListModel.h"

using cs::qt::LayerTreeModel;
using cs::qt::RunListModel;

namespace {
cs::LayerInfo layer(const std::string& name, const std::string& type, std::vector<int64_t> shape = {},
                    int64_t params = 0, bool quantizable = false) {
  cs::LayerInfo l;
  l.name = name;
  l.type = type;
  l.weightShape = std::move(shape);
  l.params = params;
  l.quantizable = quantizable;
  return l;
}

std::vector<cs::LayerInfo> vitLayers() {
  return {layer("patch_embed", "Conv2d", {64, 1, 4, 4}, 1088, true),
          layer("blocks", "ModuleList"),
          layer("blocks.0", "Block"),
          layer("blocks.0.attn", "Attention"),
          layer("blocks.0.attn.qkv", "Linear", {192, 64}, 12480, true),
          layer("blocks.0.mlp", "Mlp"),
          layer("blocks.0.mlp.fc1", "Linear", {256, 64}, 16640, true),
          layer("blocks.1.mlp.fc2", "Linear", {64, 256}, 16448, true),  // parents missing: nearest prefix
          layer("head", "Linear", {10, 64}, 650, true)};
}
}  // namespace

class TestItemModels : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void layerTreeHierarchy() {
    LayerTreeModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setLayers(vitLayers());
    QCOMPARE(model.columnCount(), 5);
    QCOMPARE(model.rowCount(), 3);  // patch_embed, blocks, head
    QCOMPARE(model.layerCount(), 9);

    const QModelIndex fc1 = model.indexForLayer(QStringLiteral("blocks.0.mlp.fc1"));
    QVERIFY(fc1.isValid());
    QCOMPARE(fc1.data().toString(), QStringLiteral("fc1"));
    QCOMPARE(fc1.data(LayerTreeModel::FullNameRole).toString(), QStringLiteral("blocks.0.mlp.fc1"));
    QCOMPARE(fc1.parent().data(LayerTreeModel::FullNameRole).toString(), QStringLiteral("blocks.0.mlp"));
    QCOMPARE(fc1.siblingAtColumn(LayerTreeModel::TypeColumn).data().toString(), QStringLiteral("Linear"));
    QCOMPARE(fc1.siblingAtColumn(LayerTreeModel::ShapeColumn).data().toString(), QStringLiteral("[256, 64]"));
    QCOMPARE(fc1.siblingAtColumn(LayerTreeModel::ParamsColumn).data().toString(), QStringLiteral("16,640"));
    QCOMPARE(fc1.siblingAtColumn(LayerTreeModel::DtypeColumn).data().toString(), QStringLiteral("float32"));
    QVERIFY(fc1.data(LayerTreeModel::QuantizableRole).toBool());

    // A layer whose parents are not layers hangs under its nearest existing prefix.
    const QModelIndex fc2 = model.indexForLayer(QStringLiteral("blocks.1.mlp.fc2"));
    QVERIFY(fc2.isValid());
    QCOMPARE(fc2.parent().data(LayerTreeModel::FullNameRole).toString(), QStringLiteral("blocks"));
    QCOMPARE(fc2.data().toString(), QStringLiteral("1.mlp.fc2"));

    QCOMPARE(model.headerData(0, Qt::Horizontal).toString(), QStringLiteral("Name"));
    QVERIFY(!model.indexForLayer(QStringLiteral("nope")).isValid());

    model.clear();
    QCOMPARE(model.rowCount(), 0);
  }

  void runList() {
    RunListModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    cs::RunRecord a;
    a.id = 1;
    a.model = "vit-fmnist";
    a.method = "rtn";
    a.recipeJson = R"({"method":"rtn","params":{"wbits":8,"abits":8}})";
    a.metricsJson = R"({"fp_accuracy":0.9012,"q_accuracy":0.8999,"eval_samples":1000})";
    a.createdAt = "2026-01-02T03:04:05Z";
    a.seconds = 12.34;
    cs::RunRecord b = a;
    b.id = 2;
    b.recipeJson = R"({"method":"rtn","params":{"wbits":4,"abits":0}})";
    b.metricsJson = "{}";
    model.setRuns({a, b});
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.index(0, 0).data(RunListModel::RunIdRole).toLongLong(), 2);  // newest first
    QCOMPARE(model.index(1, RunListModel::BitsColumn).data().toString(), QStringLiteral("W8A8"));
    QCOMPARE(model.index(0, RunListModel::BitsColumn).data().toString(), QStringLiteral("W4"));
    QCOMPARE(model.index(1, RunListModel::FpAccColumn).data().toString(), QStringLiteral("90.12 %"));
    QCOMPARE(model.index(1, RunListModel::QAccColumn).data().toString(), QStringLiteral("89.99 %"));
    QCOMPARE(model.index(0, RunListModel::QAccColumn).data().toString(), QStringLiteral("—"));
    QCOMPARE(model.index(1, RunListModel::MethodColumn).data().toString(), QStringLiteral("RTN"));
    QCOMPARE(model.index(1, RunListModel::SecondsColumn).data().toString(), QStringLiteral("12.3"));
    QCOMPARE(model.rowForId(1), 1);
  }
};

QTEST_GUILESS_MAIN(TestItemModels)
#include "test_item_models.moc"
