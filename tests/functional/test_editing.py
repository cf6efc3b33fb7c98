from tests.conftest import login, unit
def test_explore(testapp, dbsession, users):
    town = unit(dbsession, "黄梅镇")
    login(testapp, "editor")
    for t in ("News", "Disclosure", "File"):
        res = testapp.get(town.path + "@@add?type=" + t)
        f = res.forms["content-form"]
        print(t, [(k, [type(x).__name__ for x in v]) for k, v in f.fields.items()])
    open("/tmp/scratch/news.html","w").write(testapp.get(town.path + "@@add?type=News").text)
